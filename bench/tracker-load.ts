/**
 * Child process of the tracker bench: the load generator. Gives each of `clients` distinct
 * clients a real Ed25519 key and its libp2p peer id, registers them (tracker mode; not
 * measured), then sends `measureCount` re-announces of random registered clients (or the same
 * requests to the echo route), at most `measureMaxMs`, from `concurrency` workers over
 * keep-alive HTTP/1.1 connections, one source address per subnet.
 * Every announce is signed as a node signs it (tracker/node-auth.ts). The measured ones are
 * signed before the measured phase, so the load generator's signing cost stays out of it;
 * registration announces are signed as they are sent.
 * Prints one JSON line (LoadResult) on stdout; progress goes to stderr.
 */
import { execFileSync } from 'node:child_process'
import { createHash, sign, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { announcePayload, MAX_SIGNATURE_SKEW_MS, SIGNATURE_HEADER } from '../tracker/index.ts'
import { nodeKey } from './node-key.ts'
import { HOST, SUBNETS, subnetAt, type LoadArgs, type LoadResult } from './tracker-shape.ts'

const args = JSON.parse(process.argv[2] ?? '{}') as LoadArgs
const REQUEST_TIMEOUT_MS = 10_000
/** Every SAMPLE-th answer is parsed and checked (the rest only for their status). */
const SAMPLE = 16
const PACKAGES = Array.from({ length: 4 }, (_, i) => createHash('sha256').update(`bench package ${i}`).digest('hex'))
const PIECES = 1000
/** Pre-signed requests per worker, beyond its even share of a phase's count (workers do not run at exactly the same pace). */
const PRESIGN_SLACK = 1.1

process.stdin.on('end', () => process.exit(1)) // the parent died
process.stdin.resume()

// Client i: subnet i % SUBNETS, package ⌊i / SUBNETS⌋ % 4 (so every subnet holds every package),
// a quarter of them seeders (have = pieces); its own Ed25519 key and the peer id of that key.
const keys: KeyObject[] = new Array(args.clients)
const peerIds: string[] = new Array(args.clients)
function makeIdentities(): number {
  const t0 = performance.now()
  for (let i = 0; i < args.clients; i++) {
    const { privateKey, peerId } = nodeKey()
    keys[i] = privateKey
    peerIds[i] = peerId
  }
  return (performance.now() - t0) / 1000
}
const peerIdOf = (i: number): string => peerIds[i]!
const mix = (i: number): number => Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) >>> 0
const haveOf = (i: number): number => (mix(i) % 4 === 0 ? PIECES : mix(i + 1) % PIECES)
const packageOf = (i: number): string => PACKAGES[Math.floor(i / SUBNETS) % PACKAGES.length]!
/** Announces sent per client, for growing byte counters. */
const sent = new Uint32Array(args.clients)
/** Each client's last signed time (ms): the tracker wants them strictly increasing per peer id. */
const lastAt = new Float64Array(args.clients)

function bodyOf(i: number): string {
  const { site, third } = subnetAt(i % SUBNETS)
  const id = peerIdOf(i)
  const n = ++sent[i]!
  return `{"peerId":"${id}","role":"client","addresses":["/ip4/127.${site}.${third}.${2 + (Math.floor(i / SUBNETS) % 250)}/tcp/4001/p2p/${id}"],`
    + `"packages":[{"id":"${packageOf(i)}","have":${haveOf(i)},"pieces":${PIECES},"bytes":{"lan":${n * 65536},"wan":${n * 4096},"reused":${n * 1024}}}]}`
}

/** Client i's next announce: its body and the signature header over it (AT.SIG, as tracker/node-auth.ts's signatureHeader makes it). */
interface Signed { i: number, body: string, signature: string }
function signedAnnounce(i: number): Signed {
  const body = bodyOf(i)
  const at = Math.max(Date.now(), lastAt[i]! + 1)
  lastAt[i] = at
  const sig = sign(null, announcePayload(at, body), keys[i]!)
  return { i, body, signature: `${at}.${sig.toString('base64url')}` }
}

interface Reply { status: number, text: string | undefined }
interface Pending { resolve: (r: Reply) => void, reject: (e: Error) => void, wantBody: boolean, since: number }

const sourceOf = (k: number): string => {
  const { site, third } = subnetAt(k)
  return `127.${site}.${third}.1`
}

/**
 * One keep-alive HTTP/1.1 connection from one source address, one request in flight at a
 * time: request line, headers and body in one write; the answer framed by content-length.
 * (node:http's client costs ~3-4× as much CPU per request here, ~190 µs, and could not drive
 * much more than the goal's 5 000/s from one core.)
 */
class Connection {
  private socket: Socket | undefined
  private buf: Buffer | undefined
  private pending: Pending | undefined
  private readonly source: string
  private readonly port: number

  constructor(source: string, port: number) {
    this.source = source
    this.port = port
  }

  post(path: string, req: Signed, wantBody: boolean): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (this.pending !== undefined) return reject(new Error('request already in flight'))
      this.pending = { resolve, reject, wantBody, since: performance.now() }
      this.connect().write(`POST ${path} HTTP/1.1\r\nHost: ${HOST}:${this.port}\r\nContent-Type: application/json\r\n${SIGNATURE_HEADER}: ${req.signature}\r\nContent-Length: ${req.body.length}\r\n\r\n${req.body}`)
    })
  }

  /** Fails the request in flight if it is older than `ms`. */
  expire(now: number, ms: number): void {
    if (this.pending !== undefined && now - this.pending.since > ms) this.fail(new Error('timeout'))
  }

  close(): void {
    this.socket?.destroy()
    this.socket = undefined
  }

  private connect(): Socket {
    if (this.socket !== undefined) return this.socket
    const socket = connect({ host: HOST, port: this.port, localAddress: this.source, noDelay: true })
    this.socket = socket
    this.buf = undefined
    // Events of a socket already given up on must not touch its successor.
    socket.on('data', (d: Buffer) => { if (this.socket === socket) this.onData(d) })
    socket.on('error', (err) => { if (this.socket === socket) this.fail(err) })
    socket.on('close', () => { if (this.socket === socket) this.fail(new Error('connection closed')) })
    return socket
  }

  private fail(err: Error): void {
    this.socket?.destroy()
    this.socket = undefined
    const p = this.pending
    this.pending = undefined
    p?.reject(err)
  }

  private onData(d: Buffer): void {
    const buf = this.buf === undefined ? d : Buffer.concat([this.buf, d])
    this.buf = buf
    const head = buf.indexOf('\r\n\r\n')
    if (head === -1) return
    const header = buf.toString('latin1', 0, head)
    const m = /\r\ncontent-length: *(\d+)/i.exec(header)
    if (m === null || this.pending === undefined) return this.fail(new Error(`cannot frame the answer: ${header.slice(0, 100)}`))
    const end = head + 4 + Number(m[1])
    if (buf.length < end) return
    if (buf.length > end) return this.fail(new Error('more bytes than one answer'))
    this.buf = undefined
    const status = Number(header.slice(9, 12))
    const p = this.pending
    this.pending = undefined
    p.resolve({ status, text: p.wantBody || status !== 200 ? buf.toString('utf8', head + 4, end) : undefined })
    if (/\r\nconnection: *close/i.test(header)) this.close()
  }
}

/** The same over node:http (PEERSTAGE_BENCH_TRACKER_CLIENT=node-http), to compare. */
class NodeHttpConnection {
  private readonly agent: Agent
  private readonly port: number

  constructor(source: string, port: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress: source })
    this.port = port
  }

  post(path: string, signed: Signed, wantBody: boolean): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const headers = { 'content-type': 'application/json', [SIGNATURE_HEADER]: signed.signature, 'content-length': signed.body.length }
      const req = request({ agent: this.agent, host: HOST, port: this.port, method: 'POST', path, headers }, (res) => {
        const status = res.statusCode ?? 0
        res.on('error', reject)
        if (!wantBody && status === 200) {
          res.on('end', () => resolve({ status, text: undefined }))
          res.resume()
          return
        }
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString() }))
      })
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')))
      req.on('error', reject)
      req.end(signed.body)
    })
  }

  expire(): void {}

  close(): void {
    this.agent.destroy()
  }
}

const useNodeHttp = process.env.PEERSTAGE_BENCH_TRACKER_CLIENT === 'node-http'
/** One keep-alive connection per subnet, from 127.S.H.1, to one replica (subnets spread over them). */
const portOf = (k: number): number => args.ports[k % args.ports.length]!
const connections = Array.from({ length: SUBNETS }, (_, k) => (useNodeHttp ? new NodeHttpConnection(sourceOf(k), portOf(k)) : new Connection(sourceOf(k), portOf(k))))
const expiry = setInterval(() => {
  const now = performance.now()
  for (const c of connections) c.expire(now, REQUEST_TIMEOUT_MS)
}, 1000)

const post = (path: string, req: Signed, wantBody: boolean): Promise<Reply> => connections[req.i % SUBNETS]!.post(path, req, wantBody)

/** What a right answer to client i's announce looks like; a message when it is wrong. */
function checkAnswer(i: number, text: string): string | undefined {
  let a: { ok?: boolean, subnet?: string, site?: string, packages?: Array<{ id: string, peers: Array<{ peerId: string }> }> }
  try {
    a = JSON.parse(text)
  } catch {
    return `not JSON: ${text.slice(0, 100)}`
  }
  if (args.mode === 'echo') return a.ok === true ? undefined : `echo said ${text.slice(0, 100)}`
  const { cidr, siteName } = subnetAt(i % SUBNETS)
  if (a.subnet !== cidr || a.site !== siteName) return `placed in ${a.subnet} of ${a.site}, not ${cidr} of ${siteName}`
  const p = a.packages?.[0]
  if (a.packages?.length !== 1 || p?.id !== packageOf(i)) return `answered for other packages: ${text.slice(0, 100)}`
  const wanted = haveOf(i) < PIECES
  if (wanted && p.peers.length === 0) return 'no peers for a client that wants the package'
  if (!wanted && p.peers.length > 0) return 'peers handed to a seeder'
  if (p.peers.some((x) => x.peerId === peerIdOf(i))) return 'handed the client itself'
  return undefined
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK // utime + stime, all threads
  } catch {
    return Number.NaN
  }
}

const path = args.mode === 'tracker' ? '/v1/announce' : '/echo'
const workers = Math.min(args.concurrency, SUBNETS)
/** Worker w owns subnets k ≡ w (mod workers), so each connection has one request in flight at a time. */
const clientsOf: Int32Array[] = Array.from({ length: workers }, (_, w) => {
  const mine: number[] = []
  for (let i = 0; i < args.clients; i++) if ((i % SUBNETS) % workers === w) mine.push(i)
  return Int32Array.from(mine)
})

async function register(): Promise<LoadResult['register']> {
  if (args.mode !== 'tracker') return { requested: 0, done: 0, errors: 0, seconds: 0, perSecond: 0 }
  const t0 = performance.now()
  const deadline = t0 + args.registerMaxMs
  let done = 0
  let errors = 0
  let lastReport = t0
  await Promise.all(clientsOf.map(async (mine) => {
    for (let j = 0; j < mine.length && performance.now() < deadline; j++) {
      const i = mine[j]!
      try {
        const r = await post(path, signedAnnounce(i), false)
        if (r.status === 200) done++
        else errors++
      } catch {
        errors++
      }
      const now = performance.now()
      if (now - lastReport > 5000) {
        lastReport = now
        process.stderr.write(`  registered ${done} of ${args.clients} (${((done / (now - t0)) * 1000).toFixed(0)}/s)\n`)
      }
    }
  }))
  const seconds = (performance.now() - t0) / 1000
  return { requested: args.clients, done, errors, seconds, perSecond: done / seconds }
}

/**
 * Signs, before a phase, the requests its workers will send: `count` in all, each worker's
 * share (plus slack) of random clients of its own, in the order it will send them.
 */
function presign(count: number): { queues: Signed[][], seconds: number, signed: number, signedFromMs: number } {
  const t0 = performance.now()
  const signedFromMs = Date.now()
  const queues = clientsOf.map((mine) => {
    if (mine.length === 0) return []
    return Array.from({ length: Math.ceil((count / workers) * PRESIGN_SLACK) + 8 }, () => signedAnnounce(mine[Math.floor(Math.random() * mine.length)]!))
  })
  return { queues, seconds: (performance.now() - t0) / 1000, signed: queues.reduce((n, q) => n + q.length, 0), signedFromMs }
}

async function load(count: number, maxMs: number, latencies: Float64Array | undefined, queues: Signed[][]): Promise<Omit<LoadResult['measure'], 'p50Ms' | 'p90Ms' | 'p99Ms' | 'maxMs' | 'meanMs' | 'perSecond'> & { ok: number }> {
  const t0 = performance.now()
  const deadline = t0 + maxMs
  let started = 0
  let ok = 0
  let errors = 0
  let badAnswers = 0
  let sampled = 0
  let firstError: string | null = null
  const errorKinds: Record<string, number> = {}
  const fail = (kind: string, message: string): void => {
    errors++
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1
    firstError ??= message
  }
  let ranDry = 0
  await Promise.all(queues.map(async (queue) => {
    for (let j = 0; started < count && performance.now() < deadline; j++) {
      // Too many failures: the server is gone or broken; stop rather than spin.
      if (errors >= 1000 && errors > started / 10) return
      // Out of pre-signed requests: the other workers send the rest.
      if (j === queue.length) return void ranDry++
      const n = started++
      const req = queue[j]!
      const i = req.i
      const sample = n % SAMPLE === 0
      const t = performance.now()
      try {
        const r = await post(path, req, sample)
        const ms = performance.now() - t
        if (r.status !== 200) {
          fail(`HTTP ${r.status}`, `HTTP ${r.status}: ${(r.text ?? '').slice(0, 200)}`)
          continue
        }
        if (latencies !== undefined) latencies[ok] = ms
        ok++
        if (sample) {
          sampled++
          const wrong = checkAnswer(i, r.text!)
          if (wrong !== undefined) {
            badAnswers++
            firstError ??= `bad answer: ${wrong}`
          }
        }
      } catch (err) {
        const message = (err as Error).message
        fail((err as NodeJS.ErrnoException).code ?? message, message)
      }
    }
  }))
  if (ranDry > 0) process.stderr.write(`  ${ranDry} of ${queues.length} workers ran out of pre-signed requests before the end\n`)
  return { count: started, ok, errors, badAnswers, sampled, errorKinds, firstError, seconds: (performance.now() - t0) / 1000 }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

async function health(): Promise<number | null> {
  if (args.mode !== 'tracker') return null
  return new Promise((resolve) => {
    const req = request({ host: HOST, port: args.ports[0], path: '/v1/health', agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try {
          resolve((JSON.parse(Buffer.concat(chunks).toString()) as { registrations: number }).registrations)
        } catch {
          resolve(null)
        }
      })
    })
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(null))
    req.end()
  })
}

const keysSeconds = makeIdentities()
process.stderr.write(`  made ${args.clients} Ed25519 keys and peer ids in ${keysSeconds.toFixed(1)} s\n`)
const reg = await register()
if (args.mode === 'tracker') {
  process.stderr.write(`  registered ${reg.done} of ${reg.requested} in ${reg.seconds.toFixed(1)} s (${reg.perSecond.toFixed(0)}/s, ${reg.errors} errors)\n`)
  // Measure only clients that are registered.
  const registered = new Set<number>()
  for (const mine of clientsOf) for (const i of mine) if (sent[i]! > 0) registered.add(i)
  if (registered.size < args.clients) for (let w = 0; w < clientsOf.length; w++) clientsOf[w] = clientsOf[w]!.filter((i) => registered.has(i))
}
if (args.warmupRequests > 0) await load(args.warmupRequests, 10_000, undefined, presign(args.warmupRequests).queues)

const signed = presign(args.measureCount)
process.stderr.write(`  signed ${signed.signed} announces for the measured phase in ${signed.seconds.toFixed(1)} s (${((signed.seconds / signed.signed) * 1e6).toFixed(0)} µs each)\n`)
// The whole phase must end within the tracker's skew window of the oldest signed time.
if (Date.now() + args.measureMaxMs - signed.signedFromMs >= MAX_SIGNATURE_SKEW_MS) throw new Error(`the measured phase could end more than ${MAX_SIGNATURE_SKEW_MS} ms after its requests were signed: the tracker would refuse them as stale`)

const latencies = new Float64Array(args.measureCount)
const measuredPids = [...args.serverPids, ...(args.redisPid === null ? [] : [args.redisPid])]
const cpu0 = measuredPids.map(cpuSeconds)
const own0 = process.cpuUsage()
const loopDelay = monitorEventLoopDelay({ resolution: 5 })
loopDelay.enable()
const m = await load(args.measureCount, args.measureMaxMs, latencies, signed.queues)
loopDelay.disable()
const cpuShares = measuredPids.map((pid, j) => (cpuSeconds(pid) - cpu0[j]!) / m.seconds)
const serverCpus = cpuShares.slice(0, args.serverPids.length)
const own = process.cpuUsage(own0)
const loadCpu = (own.user + own.system) / 1e6 / m.seconds
const lat = latencies.subarray(0, m.ok).sort()
let sum = 0
for (const x of lat) sum += x
const result: LoadResult = {
  setup: { keysSeconds, presignSeconds: signed.seconds, presigned: signed.signed },
  register: reg,
  measure: {
    count: m.count,
    errors: m.errors,
    badAnswers: m.badAnswers,
    sampled: m.sampled,
    errorKinds: m.errorKinds,
    firstError: m.firstError,
    seconds: m.seconds,
    perSecond: m.ok / m.seconds,
    p50Ms: percentile(lat, 0.5),
    p90Ms: percentile(lat, 0.9),
    p99Ms: percentile(lat, 0.99),
    maxMs: percentile(lat, 1),
    meanMs: sum / Math.max(1, lat.length),
  },
  serverCpu: serverCpus.reduce((a, b) => a + b, 0),
  serverCpus,
  redisCpu: args.redisPid === null ? null : cpuShares.at(-1)!,
  loadCpu,
  loadLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
  registrations: await health(),
}
clearInterval(expiry)
for (const c of connections) c.close()
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
