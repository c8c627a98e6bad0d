/**
 * A WAN to emulate on one machine, for benches that ask how a swarm behaves across it: a
 * data-centre namespace, a router namespace, and one namespace per branch office, each
 * joined to the router by a veth pair. The router's end of each branch's pair carries one
 * HTB class, the branch's downlink, which both shapes it and counts its bytes; uplinks
 * and the DC's link are not shaped (the DC's egress only counts, through a pfifo). All the
 * hosts of a branch are addresses on its one interface, so traffic between them stays
 * inside the branch namespace (the LAN, loopback speed) and never crosses the WAN; traffic
 * between branches crosses the router, down the receiving branch's downlink.
 *
 * ```
 *   ps-PID-dc: wan0 10.77.0.1/24 ── (pfifo: counts what DC hosts send) ──► ps-PID-wan: dc0 10.77.0.254
 *   ps-PID-wan: br1 10.77.1.254 ── HTB 1:10 at the downlink rate ──► ps-PID-b1: wan0 10.77.1.1 … 10.77.1.N, default via .254
 *               br2 10.77.2.254 ── HTB 1:10 …                    ──► ps-PID-b2: wan0 10.77.2.1 … 10.77.2.N
 * ```
 *
 * Needs root, `ip` and `tc` (iproute2) and the HTB scheduler; `netnsUnavailable()` says
 * why not. Run programs inside with `prefix(ns)` (reference-peers.ts's launchers take it).
 * `destroy()` kills every process still inside a namespace, then removes the namespaces;
 * it also runs on SIGINT, SIGTERM, SIGHUP and process exit. Namespaces left by a bench
 * process that no longer runs (a crash, a SIGKILL) are removed, with what runs in them, on
 * the next start.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'

/** What tc counts per TCP segment beyond its payload: Ethernet 14 + IPv4 20 + TCP 20 + timestamps 12. */
export const SEGMENT_OVERHEAD_BYTES = 66
/** The DC hosts' subnet; the DC namespace holds DC_HOST. */
export const DC_SUBNET = '10.77.0.0/24'
export const DC_HOST = '10.77.0.1'
const NAME_PREFIX = 'ps-'

export interface TopologyInit {
  branches: number
  clientsPerBranch: number
  /** Each branch's downlink (DC → branch), shaped at the DC end. */
  downlinkBitsPerSec: number
}

export interface Branch {
  /** 1-based; also the third octet of its addresses. */
  index: number
  ns: string
  subnet: string
  gateway: string
  /** The clients' addresses, all on the branch's one interface. */
  clients: string[]
  /** The router's end of the branch's link, where its HTB class sits (in the router namespace). */
  routerDevice: string
}

/** What tc counted on a link since it was built (packets are TCP segments, GSO or not). */
export interface LinkCount {
  bytes: number
  packets: number
}

/** Every counted link: each branch's downlink (its HTB class), each branch's uplink, and all the DC sent. */
export interface Counters {
  down: LinkCount[]
  up: LinkCount[]
  dcSent: LinkCount
}

/** `after - before`, link by link. */
export function countersDelta(after: Counters, before: Counters): Counters {
  const d = (a: LinkCount, b: LinkCount): LinkCount => ({ bytes: a.bytes - b.bytes, packets: a.packets - b.packets })
  return { down: after.down.map((a, i) => d(a, before.down[i]!)), up: after.up.map((a, i) => d(a, before.up[i]!)), dcSent: d(after.dcSent, before.dcSent) }
}

/** TCP payload bytes in tc's counts (every TCP segment costs SEGMENT_OVERHEAD_BYTES more). */
export function payloadBytes(c: LinkCount): number {
  return c.bytes - c.packets * SEGMENT_OVERHEAD_BYTES
}

/** Runs a command, with `input` on its stdin, and resolves with its stdout. */
function output(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    proc.stdout!.on('data', (d: Buffer) => { out += d.toString() })
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString() })
    proc.once('error', reject)
    proc.once('close', (code) => code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.trim()}`)))
    if (input !== undefined) {
      proc.stdin!.on('error', () => { /* it exited without reading: 'close' says how */ })
      proc.stdin!.end(input)
    }
  })
}

/** Each `Sent B bytes P pkt` of tc's -s output, in order. */
function sentCounts(text: string): LinkCount[] {
  return [...text.matchAll(/Sent (\d+) bytes (\d+) pkt/g)].map((m) => ({ bytes: Number(m[1]), packets: Number(m[2]) }))
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    sh(cmd, args)
    return true
  } catch {
    return false
  }
}

/** Why this machine cannot build the topology (one sentence), or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and tc)'
  for (const tool of ['ip', 'tc']) {
    if (!tryRun(tool, ['-V'])) return `needs '${tool}' (apt-get install -y iproute2)`
  }
  const probe = `${NAME_PREFIX}${process.pid}-probe`
  try {
    sh('ip', ['netns', 'add', probe])
    sh('ip', ['-n', probe, 'link', 'set', 'lo', 'up'])
    sh('tc', ['-n', probe, 'qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb'])
    return undefined
  } catch (err) {
    return `cannot create a network namespace with an HTB qdisc here: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`
  } finally {
    tryRun('ip', ['netns', 'del', probe])
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Kills what still runs in a namespace, then deletes it. */
function removeNamespace(ns: string): void {
  const pids = tryOutput('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch { /* gone already */ }
  }
  tryRun('ip', ['netns', 'del', ns])
}

function tryOutput(cmd: string, args: string[]): string {
  try {
    return sh(cmd, args)
  } catch {
    return ''
  }
}

/** Removes `ps-PID-*` namespaces whose bench process is gone (a crash, a SIGKILL). Returns their names. */
export function removeStaleNamespaces(): string[] {
  const stale = tryOutput('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!)
    .filter((ns) => { const m = /^ps-(\d+)-/.exec(ns); return m !== null && Number(m[1]) !== process.pid && !pidAlive(Number(m[1])) })
  for (const ns of stale) removeNamespace(ns)
  return stale
}

/**
 * The namespaces, links and shaping of `init`, and the processes started in them. Build it
 * with `createTopology`; `destroy()` (idempotent, synchronous) undoes all of it.
 */
export class Topology {
  readonly dcNs: string
  readonly routerNs: string
  readonly branches: Branch[]
  readonly downlinkBitsPerSec: number
  private readonly namespaces: string[] = []
  private readonly groups = new Set<ChildProcess>()
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.destroy()
    process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[signal]!)
  }
  private readonly onExit = (): void => this.destroy()
  private destroyed = false

  constructor(init: TopologyInit) {
    const tag = `${NAME_PREFIX}${process.pid}`
    this.dcNs = `${tag}-dc`
    this.routerNs = `${tag}-wan`
    this.downlinkBitsPerSec = init.downlinkBitsPerSec
    this.branches = Array.from({ length: init.branches }, (_, i) => ({
      index: i + 1,
      ns: `${tag}-b${i + 1}`,
      subnet: `10.77.${i + 1}.0/24`,
      gateway: `10.77.${i + 1}.254`,
      clients: Array.from({ length: init.clientsPerBranch }, (_, h) => `10.77.${i + 1}.${h + 1}`),
      routerDevice: `br${i + 1}`,
    }))
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, this.onSignal)
    process.on('exit', this.onExit)
  }

  /** The command prefix that runs a program inside `ns`. */
  prefix(ns: string): string[] {
    return ['ip', 'netns', 'exec', ns]
  }

  /** What tc has counted on every link so far. */
  async counters(): Promise<Counters> {
    const one = async (ns: string, dev: string): Promise<LinkCount> => sentCounts(await output('tc', ['-n', ns, '-s', 'qdisc', 'show', 'dev', dev]))[0]!
    const downlinks = sentCounts(await output('tc', ['-n', this.routerNs, '-s', '-batch', '-'], this.downlinkBatch()))
    const [up, dcSent] = await Promise.all([Promise.all(this.branches.map((b) => one(b.ns, 'wan0'))), one(this.dcNs, 'wan0')])
    return { down: this.checked(downlinks), up, dcSent }
  }

  private downlinkBatch(): string {
    return this.branches.map((b) => `class show dev ${b.routerDevice}\n`).join('')
  }

  private checked(downlinks: LinkCount[]): LinkCount[] {
    if (downlinks.length !== this.branches.length) throw new Error(`tc showed ${downlinks.length} downlink classes, expected ${this.branches.length}`)
    return downlinks
  }

  /**
   * Samples every `intervalMs` until stopped: each branch's downlink counters and each
   * branch's established TCP connections (`ss -ti`). One shell loop at the lowest priority
   * does it, so a busy machine delays the samples rather than what they watch; each
   * sample is stamped when its reads are done.
   */
  startSampler(intervalMs: number): { stop: () => Promise<RawSample[]> } {
    const script = [
      'while :; do',
      `  printf '${this.downlinkBatch().replaceAll('\n', '\\n')}' | tc -n ${this.routerNs} -s -batch -`,
      ...this.branches.map((b, i) => `  echo "@ss ${i}"; ss -N ${b.ns} -tinH state established`),
      '  echo "@at $(date +%s%N)"',
      `  sleep ${intervalMs / 1000}`,
      'done',
    ].join('\n')
    const proc = spawn('nice', ['-n', '19', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'ignore'], detached: true })
    this.groups.add(proc)
    const chunks: Buffer[] = []
    proc.stdout!.on('data', (d: Buffer) => chunks.push(d))
    const exited = new Promise((r) => proc.once('close', r))
    return {
      stop: async () => {
        killGroup(proc, 'SIGTERM')
        await exited
        this.groups.delete(proc)
        const samples: RawSample[] = []
        // Each sample is the text before its "@at NS" line: tc's output, then "@ss i" and that branch's ss output per branch.
        const text = Buffer.concat(chunks).toString()
        let from = 0
        for (const m of text.matchAll(/^@at (\d+)$/gm)) {
          const body = text.slice(from, m.index)
          from = m.index + m[0].length + 1
          const [tcText, ...ss] = body.split(/^@ss \d+$/m)
          const down = sentCounts(tcText!)
          if (down.length !== this.branches.length || ss.length !== this.branches.length) continue
          samples.push({ atMs: Number(BigInt(m[1]!) / 1_000_000n), down, ss })
        }
        return samples
      },
    }
  }

  /** Removes everything: the sampler, what runs in the namespaces (SIGKILL), the namespaces. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const p of this.groups) killGroup(p, 'SIGKILL')
    for (const ns of this.namespaces.reverse()) removeNamespace(ns)
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, this.onSignal)
    process.off('exit', this.onExit)
  }

  /** Builds it (called once by createTopology). */
  build(): void {
    const { dcNs: dc, routerNs: rt } = this
    this.addNamespace(dc)
    this.addNamespace(rt)
    sh('ip', ['netns', 'exec', rt, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward'])
    this.link(dc, `${DC_HOST}/24`, 'dc0', '10.77.0.254/24')
    // A pfifo only to count: tc counts each TCP segment of a GSO packet, interface counters do not.
    sh('tc', ['-n', dc, 'qdisc', 'add', 'dev', 'wan0', 'root', 'pfifo', 'limit', '10000'])
    const rate = `${this.downlinkBitsPerSec}bit`
    for (const b of this.branches) {
      this.addNamespace(b.ns)
      this.link(b.ns, `${b.clients[0]}/24`, b.routerDevice, `${b.gateway}/24`)
      for (const ip of b.clients.slice(1)) sh('ip', ['-n', b.ns, 'addr', 'add', `${ip}/24`, 'dev', 'wan0'])
      sh('tc', ['-n', b.ns, 'qdisc', 'add', 'dev', 'wan0', 'root', 'pfifo', 'limit', '10000'])
      sh('tc', ['-n', rt, 'qdisc', 'add', 'dev', b.routerDevice, 'root', 'handle', '1:', 'htb', 'default', '10'])
      sh('tc', ['-n', rt, 'class', 'add', 'dev', b.routerDevice, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', rate, 'ceil', rate, 'quantum', '60000'])
    }
  }

  /** A veth pair from `ns` (its end `wan0` at `address`, default route via the router) to the router (its end `routerDevice` at `gateway`). */
  private link(ns: string, address: string, routerDevice: string, gateway: string): void {
    const rt = this.routerNs
    sh('ip', ['link', 'add', 'wan0', 'netns', ns, 'type', 'veth', 'peer', 'name', routerDevice, 'netns', rt])
    sh('ip', ['-n', ns, 'addr', 'add', address, 'dev', 'wan0'])
    sh('ip', ['-n', rt, 'addr', 'add', gateway, 'dev', routerDevice])
    sh('ip', ['-n', ns, 'link', 'set', 'wan0', 'up'])
    sh('ip', ['-n', rt, 'link', 'set', routerDevice, 'up'])
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', gateway.split('/')[0]!])
  }

  private addNamespace(ns: string): void {
    sh('ip', ['netns', 'add', ns])
    this.namespaces.push(ns)
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  }
}

function killGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined) return
  try {
    process.kill(-p.pid, signal)
  } catch { /* gone already */ }
}

/** Removes stale namespaces, then builds the topology; on any failure removes what it built and throws. */
export function createTopology(init: TopologyInit): Topology {
  if (!(init.branches >= 1 && init.branches <= 253)) throw new RangeError(`branches must be 1–253, got ${init.branches}`)
  if (!(init.clientsPerBranch >= 1 && init.clientsPerBranch <= 253)) throw new RangeError(`clientsPerBranch must be 1–253, got ${init.clientsPerBranch}`)
  if (!(init.downlinkBitsPerSec > 0)) throw new RangeError(`downlinkBitsPerSec must be > 0, got ${init.downlinkBitsPerSec}`)
  removeStaleNamespaces()
  const topo = new Topology(init)
  try {
    topo.build()
  } catch (err) {
    topo.destroy()
    throw err
  }
  return topo
}

/** One sample of `Topology.startSampler`: when (ms since the epoch), each branch's downlink, each branch's `ss -tinH` text. */
export interface RawSample {
  atMs: number
  down: LinkCount[]
  ss: string[]
}

/**
 * Bytes each host of a branch has received over its TCP connections, split by where they
 * came from (a host of its own branch: LAN; anything else: WAN), from one `ss -ti` text.
 * Connections closed since an earlier sample keep the last count seen (pass the same `seen`).
 */
export function receivedByHost(branch: Branch, ssText: string, seen: Map<string, { local: string, lan: boolean, bytes: number }>): Map<string, { lan: number, wan: number }> {
  const lines = ssText.split('\n')
  const lanPrefix = branch.subnet.replace(/0\/24$/, '')
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*\d+\s+\d+\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\d+\.\d+\.\d+\.\d+):(\d+)/.exec(lines[i]!)
    if (m === null) continue
    const info = /bytes_received:(\d+)/.exec(lines[i + 1] ?? '')
    if (info === null) continue
    seen.set(`${m[1]}:${m[2]}-${m[3]}:${m[4]}`, { local: m[1]!, lan: m[3]!.startsWith(lanPrefix), bytes: Number(info[1]) })
  }
  const out = new Map<string, { lan: number, wan: number }>()
  for (const s of seen.values()) {
    const r = out.get(s.local) ?? { lan: 0, wan: 0 }
    if (s.lan) r.lan += s.bytes
    else r.wan += s.bytes
    out.set(s.local, r)
  }
  return out
}
