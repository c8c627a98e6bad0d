/**
 * The estate the tracker bench simulates, shared by its server and load processes:
 * SITES sites of SUBNETS_PER_SITE /24s each, `127.S.H.0/24` (S = 1..SITES, H = 1..SUBNETS_PER_SITE).
 * Any 127/8 address works on Linux loopback, so the load binds one source address per
 * subnet and the tracker places every announce by it, as it would on a real network.
 */

export const HOST = '127.0.10.10'
export const SITES = 64
export const SUBNETS_PER_SITE = 4
export const SUBNETS = SITES * SUBNETS_PER_SITE

/** Subnet k (0..SUBNETS-1) → its site number S and third octet H. */
export function subnetAt(k: number): { site: number, third: number, cidr: string, siteName: string } {
  const site = Math.floor(k / SUBNETS_PER_SITE) + 1
  const third = (k % SUBNETS_PER_SITE) + 1
  return { site, third, cidr: `127.${site}.${third}.0/24`, siteName: `site-${site}` }
}

/** The tracker config's `sites:` covering every subnet above. */
export function sitesConfig(): Array<{ name: string, subnets: string[] }> {
  return Array.from({ length: SITES }, (_, s) => ({
    name: `site-${s + 1}`,
    subnets: Array.from({ length: SUBNETS_PER_SITE }, (_, h) => `127.${s + 1}.${h + 1}.0/24`),
  }))
}

/** What the parent tells a server child (argv[2], JSON). */
export interface ServerArgs {
  mode: 'tracker' | 'echo'
  /** Level store directory (tracker mode). */
  dir?: string
  /** A Redis URL instead (tracker mode): this tracker is one replica of the estate stored there. */
  store?: string
}

/** What the parent tells a load child (argv[2], JSON). */
export interface LoadArgs {
  /** The tracker replicas' ports (one for the echo and level runs): subnet k talks to ports[k % n]. */
  ports: number[]
  mode: 'tracker' | 'echo'
  /** Distinct clients, each with its own key, to register first (tracker mode); echo mode sends the same requests for them. */
  clients: number
  concurrency: number
  /** Requests sent before measuring and not counted (echo mode; tracker mode warms up by registering). */
  warmupRequests: number
  registerMaxMs: number
  measureCount: number
  measureMaxMs: number
  /** The servers' pids, to read their CPU time over the measured phase. */
  serverPids: number[]
  /** The redis-server's pid, likewise (Redis runs). */
  redisPid: number | null
}

export interface LoadResult {
  /** Not measured: making the clients' keys and peer ids, signing the measured phase's announces. */
  setup: { keysSeconds: number, presignSeconds: number, presigned: number }
  register: { requested: number, done: number, errors: number, seconds: number, perSecond: number }
  measure: {
    count: number
    errors: number
    /** Answers that came back 200 but said the wrong thing (sampled). */
    badAnswers: number
    sampled: number
    errorKinds: Record<string, number>
    firstError: string | null
    seconds: number
    perSecond: number
    p50Ms: number
    p90Ms: number
    p99Ms: number
    maxMs: number
    meanMs: number
  }
  /** Share of one core the servers used over the measured phase (all their threads, summed). */
  serverCpu: number
  /** The same per server. */
  serverCpus: number[]
  /** Share of one core redis-server used (Redis runs). */
  redisCpu: number | null
  /** Share of one core this load generator used over the measured phase. */
  loadCpu: number
  /** How late this load generator's event loop ran over the measured phase: its own share of the latencies. */
  loadLoopDelayMs: { p99: number, max: number }
  /** Registrations the tracker reports at the end (tracker mode). */
  registrations: number | null
}
