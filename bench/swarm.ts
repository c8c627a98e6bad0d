/**
 * A package to every client of K branch offices across an emulated WAN (netns.ts: a DC, a
 * router, K branch namespaces of N clients each, every branch's downlink an HTB class at
 * RATE): how long until the last client has it, how many copies cross each branch's
 * downlink, and how much does the DC send? Three systems, one after another, on the same
 * topology and file:
 *
 * - peerstage: a tracker and a DP in the DC, `peerstage fetch --tracker` on every client
 *   (LAN peers from the tracker, WAN only under a lease), the tracker's default config;
 * - aria2c + opentracker: a seeder in the DC, a leecher on every client;
 * - nginx + curl: every client downloads the file from the DC.
 *
 * Times run from the clients' process start (servers already up) to each client's
 * completion (peerstage: its summary, printed once the files are verified and delivered;
 * aria2c, which keeps seeding: its file whole on disk (it checks each piece as it
 * completes); curl: its exit). WAN bytes are TCP payload in the branch's tc class counters (each segment's
 * 66 header bytes taken off), read before and after. The reference is the fluid lower
 * bound of the topology: package ÷ branch downlink rate (the LAN is free; the DC's uplink
 * is not shaped); TCP's headers alone put the best possible at ~1.046 × it. A niced sampler
 * records, every SAMPLE_MS, each branch's downlink bytes and each client's TCP bytes from
 * LAN and WAN peers (`ss -ti`): when each client connected and started pulling, in the JSON.
 *
 * Flags (`npm run bench -- swarm --branches=3`) or PEERSTAGE_BENCH_SWARM_BRANCHES, _CLIENTS,
 * _MIB, _MBIT, _ANNOUNCE_SECONDS (the tracker's announceIntervalSeconds; default its own),
 * _SYSTEMS (comma-separated subset of peerstage,aria2c,nginx), _SAMPLE_MS (default 500; 0:
 * no timeline). Needs root, ip and tc;
 * skips what it cannot run, saying why.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { cachedRandomFile, BIN, type BenchOutcome, type BenchRow } from './common.ts'
import { countersDelta, createTopology, DC_HOST, netnsUnavailable, payloadBytes, receivedByHost, type Counters, type Topology } from './netns.ts'
import { startProcess, toolPath, type PeerProcess } from './processes.ts'
import { makeTorrent, announceUrl, missingTools, startAria2Leecher, startAria2Seeder, startCurl, startNginx, startTracker, watchFill } from './reference-peers.ts'

const NODE = process.execPath
const MIB = 2 ** 20
const SYSTEMS = ['peerstage', 'aria2c', 'nginx'] as const
type System = typeof SYSTEMS[number]

/** `--name=value` on the command line, else PEERSTAGE_BENCH_SWARM_NAME, else the default. */
function option(name: string, fallback: string): string {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`))
  return flag?.slice(name.length + 3) ?? process.env[`PEERSTAGE_BENCH_SWARM_${name.toUpperCase().replaceAll('-', '_')}`] ?? fallback
}

function positive(name: string, fallback: number): number {
  const v = Number(option(name, String(fallback)))
  if (!(v > 0)) throw new RangeError(`swarm bench: --${name} must be a number > 0, got '${option(name, '')}'`)
  return v
}

export interface SwarmConfig {
  branches: number
  clients: number
  packageBytes: number
  downlinkBitsPerSec: number
  /** The tracker's announceIntervalSeconds; undefined = its default. */
  announceSeconds: number | undefined
  systems: System[]
  sampleMs: number
}

export function swarmConfig(): SwarmConfig {
  const systems = option('systems', SYSTEMS.join(',')).split(',') as System[]
  const unknown = systems.filter((s) => !SYSTEMS.includes(s))
  if (unknown.length > 0) throw new RangeError(`swarm bench: unknown system ${unknown.join(', ')}; known: ${SYSTEMS.join(', ')}`)
  const announce = option('announce-seconds', '')
  return {
    branches: Math.floor(positive('branches', 2)),
    clients: Math.floor(positive('clients', 3)),
    packageBytes: Math.floor(positive('mib', 64) * MIB),
    downlinkBitsPerSec: positive('mbit', 200) * 1e6,
    announceSeconds: announce === '' ? undefined : positive('announce-seconds', 30),
    systems,
    sampleMs: Number(option('sample-ms', '500')) || 0,
  }
}

/** One client: where it is, and when (seconds from the start) it was done, or why not. */
export interface ClientRun {
  branch: number
  ip: string
  doneSeconds: number | null
  error?: string
}

/** A sample of the timeline: per branch, downlink bytes so far; per client, TCP bytes received from LAN and WAN peers. */
interface Sample {
  t: number
  down: number[]
  hosts: Record<string, { lan: number, wan: number }>
}

export interface SystemRun {
  system: System
  clients: ClientRun[]
  delta: Counters
  /** CPU seconds from the clients' start to the last one done: all clients together, and the DC's processes. */
  cpuSeconds: { clients: number, dc: number }
  /** Per client, from the timeline: seconds to its first TCP connection, to its first MiB over the WAN and over the LAN; null: never. */
  first: Record<string, { connected: number | null, wanMib: number | null, lanMib: number | null }>
  /** Per branch: seconds to the first MiB down its link. */
  branchFirstMib: Array<number | null>
  timeline: Sample[]
  /** The machine's 1-minute load average before and after: other work on it slows every system. */
  load: [number, number]
  extra: Record<string, unknown>
}

/** A system ready to measure: its DC processes up; `start` starts one client and resolves when it is done. */
interface Prepared {
  dc: PeerProcess[]
  start: (branch: number, ip: string, clients: PeerProcess[]) => Promise<void>
  /** After the run, before anything stops: what else to keep. */
  extra?: (clients: PeerProcess[]) => Promise<Record<string, unknown>>
}

/** Starts every client at once, samples tc and ss while they run, and returns once all are done (or at the deadline). */
async function measure(topo: Topology, config: SwarmConfig, system: System, prepared: Prepared): Promise<SystemRun> {
  const loadBefore = loadavg()[0]!
  const before = await topo.counters()
  const dcCpuBefore = prepared.dc.reduce((n, p) => n + p.cpuSeconds(), 0)
  const sampler = config.sampleMs > 0 ? topo.startSampler(config.sampleMs) : undefined
  const startedAtMs = Date.now()
  const t0 = performance.now()
  const procs: PeerProcess[] = []
  const clients: ClientRun[] = topo.branches.flatMap((b) => b.clients.map((ip) => ({ branch: b.index, ip, doneSeconds: null })))
  let over = false
  const settled = clients.map((c) => prepared.start(c.branch, c.ip, procs).then(
    () => { if (!over) c.doneSeconds = (performance.now() - t0) / 1000 },
    (err: Error) => { if (!over) c.error = err.message },
  ))
  const limitMs = Math.max(120, 30 * fluidBoundSeconds(config)) * 1000
  await Promise.race([Promise.all(settled), new Promise((r) => setTimeout(r, limitMs).unref())])
  over = true
  for (const c of clients) if (c.doneSeconds === null && c.error === undefined) c.error = `not done after ${limitMs / 1000} s`
  const after = await topo.counters()
  const cpuSeconds = { clients: (await Promise.all(procs.map(cpuOf))).reduce((n, c) => n + c, 0), dc: prepared.dc.reduce((n, p) => n + p.cpuSeconds(), 0) - dcCpuBefore }
  const extra = await prepared.extra?.(procs) ?? {}
  const seen = topo.branches.map(() => new Map<string, { local: string, lan: boolean, bytes: number }>())
  const timeline: Sample[] = (await sampler?.stop() ?? []).map((raw) => ({
    t: (raw.atMs - startedAtMs) / 1000,
    down: raw.down.map((d, i) => d.bytes - before.down[i]!.bytes),
    hosts: Object.fromEntries(topo.branches.flatMap((b, i) => [...receivedByHost(b, raw.ss[i]!, seen[i]!)])),
  }))
  await Promise.all([...procs, ...prepared.dc].map((p) => p.stop()))
  const firstOver = (pick: (s: Sample) => number): number | null => timeline.find((s) => pick(s) >= MIB)?.t ?? null
  return {
    system,
    clients,
    delta: countersDelta(after, before),
    cpuSeconds,
    first: Object.fromEntries(clients.map((c) => [c.ip, {
      connected: timeline.find((s) => s.hosts[c.ip] !== undefined)?.t ?? null,
      wanMib: firstOver((s) => s.hosts[c.ip]?.wan ?? 0),
      lanMib: firstOver((s) => s.hosts[c.ip]?.lan ?? 0),
    }])),
    branchFirstMib: topo.branches.map((_, i) => firstOver((s) => s.down[i]!)),
    timeline,
    load: [loadBefore, loadavg()[0]!],
    extra,
  }
}

/** CPU seconds of a process tree: from /proc while it lives, from its rusage once it exited (started `timed`; else 0). */
async function cpuOf(p: PeerProcess): Promise<number> {
  const exit = await Promise.race([p.exited, Promise.resolve(undefined)])
  return exit === undefined ? p.cpuSeconds() : exit.cpuSeconds ?? 0
}

/** Its first stdout line, as JSON; when that is not JSON (a pretty-printed error), what it printed before exiting. */
async function firstJson(p: PeerProcess): Promise<Record<string, any>> {
  const line = await p.line()
  try {
    return JSON.parse(line) as Record<string, any>
  } catch {
    const exit = await Promise.race([p.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))])
    throw new Error(`${p.name} printed ${exit === undefined ? line : `${exit.stdout.replace(/\s+/g, ' ').trim().slice(0, 600)} and exited with ${exit.code}`}`)
  }
}

/** peerstage: a tracker (its default config but for sites) and a DP in the DC; `fetch --tracker` on every client, seeding on after it is done. */
async function peerstage(topo: Topology, config: SwarmConfig, dir: string, file: string): Promise<Prepared> {
  const cli = (args: string[]): string => execFileSync(NODE, [BIN, ...args], { encoding: 'utf8' })
  cli(['keygen', '--out', join(dir, 'keys')])
  cli(['swarm-key', '--out', join(dir, 'swarm.key')])
  const manifest = join(dir, 'pkg.json')
  const src = join(file, '..')
  cli(['pack', src, '--name', 'img', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', manifest])
  writeFileSync(join(dir, 'tracker.yaml'), [
    `listen: ${DC_HOST}:7070`, 'adminToken: admin', 'dpToken: dp', 'trust: [keys/publisher.pub]',
    ...(config.announceSeconds === undefined ? [] : [`announceIntervalSeconds: ${config.announceSeconds}`]),
    'sites:', `  - { name: dc, subnets: ['10.77.0.0/24'] }`,
    ...topo.branches.map((b) => `  - { name: b${b.index}, subnets: ['${b.subnet}'] }`),
  ].join('\n') + '\n')
  const dcPrefix = topo.prefix(topo.dcNs)
  const tracker = startProcess([NODE, BIN, 'tracker', '--config', join(dir, 'tracker.yaml'), '--json'], { prefix: dcPrefix, name: 'peerstage tracker' })
  const dc = [tracker]
  try {
    const { url } = await firstJson(tracker) as { url: string }
    const dp = startProcess([NODE, BIN, 'dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', `/ip4/${DC_HOST}/tcp/7001`, '--dial-from', DC_HOST,
      '--publish', manifest, '--source', src, '--tracker', url, '--dp-token', 'dp', '--json'], { prefix: dcPrefix, name: 'peerstage dp' })
    dc.push(dp)
    await firstJson(dp)
    return {
      dc,
      start: async (branch, ip, clients) => {
        const p = startProcess([NODE, BIN, 'fetch', manifest, '--out', join(dir, `c-${ip}`), '--swarm-key', join(dir, 'swarm.key'), '--trust', join(dir, 'keys/publisher.pub'),
          '--listen', `/ip4/${ip}/tcp/7000`, '--dial-from', ip, '--tracker', url, '--seed-for', '600', '--json'], { prefix: topo.prefix(topo.branches[branch - 1]!.ns), name: `peerstage fetch ${ip}` })
        clients.push(p)
        await p.line((l) => l === '}') // the end of its summary (--json pretty-prints it)
      },
      // What the tracker saw per subnet (clients' LAN/WAN bytes, the DP's upload) once the last announces are in.
      extra: async () => {
        await new Promise((r) => setTimeout(r, 1500))
        const status = startProcess([NODE, '-e', `fetch(${JSON.stringify(`${url}/v1/status`)}).then((r) => r.text()).then((t) => console.log(t))`], { prefix: dcPrefix, name: 'status' })
        return { trackerStatus: await firstJson(status).catch((err: Error) => err.message) }
      },
    }
  } catch (err) {
    await Promise.all(dc.map((p) => p.stop()))
    throw err
  }
}

/** aria2c + opentracker: a seeder in the DC, a leecher on every client that seeds on after it is done. */
async function aria2(topo: Topology, config: SwarmConfig, dir: string, file: string): Promise<Prepared> {
  const dcPrefix = topo.prefix(topo.dcNs)
  const torrent = await makeTorrent({ file, out: join(dir, 'pkg.torrent'), announceUrl: announceUrl(DC_HOST, 6969) })
  const tracker = await startTracker({ prefix: dcPrefix, address: DC_HOST, port: 6969, dir: join(dir, 'opentracker'), infoHashes: [torrent.infoHash] })
  const dc: PeerProcess[] = [tracker]
  try {
    dc.push(await startAria2Seeder({ prefix: dcPrefix, address: DC_HOST, port: 6881, torrent, dir: join(file, '..') }))
    await tracker.waitForSeeders(torrent.infoHash)
    return {
      dc,
      start: async (branch, ip, clients) => {
        const p = await startAria2Leecher({ prefix: topo.prefix(topo.branches[branch - 1]!.ns), address: ip, port: 6881, torrent, dir: join(dir, `c-${ip}`), seedSeconds: 600 })
        clients.push(p)
        const fill = await watchFill(p.file, config.packageBytes, p.exited)
        if (fill.lastAt === undefined) throw new Error(`aria2c ${ip} exited before its file was whole: ${(await p.exited).stderrTail.trim()}`)
      },
    }
  } catch (err) {
    await Promise.all(dc.map((p) => p.stop()))
    throw err
  }
}

/** nginx + curl: every client downloads the file from the DC. */
async function nginx(topo: Topology, _config: SwarmConfig, dir: string, file: string): Promise<Prepared> {
  const server = await startNginx({ prefix: topo.prefix(topo.dcNs), address: DC_HOST, port: 8080, root: join(file, '..'), dir: join(dir, 'nginx') })
  return {
    dc: [server],
    start: async (branch, ip, clients) => {
      const p = startCurl({ url: server.url('install.wim'), out: join(dir, `c-${ip}`, 'install.wim'), prefix: topo.prefix(topo.branches[branch - 1]!.ns), address: ip, timed: true })
      clients.push(p)
      await p.done()
    },
  }
}

/** What each system needs installed; the missing ones' names. */
function missingFor(system: System): string[] {
  const tools = { peerstage: [], aria2c: ['aria2c', 'opentracker', 'mktorrent', 'curl'], nginx: ['nginx', 'curl'] }[system]
  return tools.filter((t) => toolPath(t) === undefined)
}

export function fluidBoundSeconds(config: SwarmConfig): number {
  return config.packageBytes / (config.downlinkBitsPerSec / 8)
}

function lastDone(run: SystemRun): number | null {
  return run.clients.some((c) => c.doneSeconds === null) ? null : Math.max(...run.clients.map((c) => c.doneSeconds!))
}

/** The rows of one system's run; the goals are peerstage's. */
function rowsOf(run: SystemRun, config: SwarmConfig): BenchRow[] {
  const bound = fluidBoundSeconds(config)
  const name = `swarm ${run.system}`
  const done = run.clients.map((c) => c.doneSeconds).filter((s): s is number => s !== null)
  const failed = run.clients.filter((c) => c.doneSeconds === null)
  const last = lastDone(run)
  const wan = run.delta.down.map((d) => payloadBytes(d) / config.packageBytes)
  const goals = run.system === 'peerstage'
  return [
    {
      bench: name, metric: `last of ${run.clients.length} clients done, from process start`,
      value: last === null ? `${failed.length} not done: ${failed[0]!.error}` : `${last.toFixed(2)} s (first ${Math.min(...done).toFixed(2)} s)`,
      reference: `fluid bound ${bound.toFixed(2)} s`, ratio: last === null ? null : last / bound, goal: goals ? '<= 1.5' : '', pass: goals ? last !== null && last / bound <= 1.5 : null,
    },
    {
      bench: name, metric: 'WAN payload per branch / package', value: wan.map((w, i) => `b${i + 1} ${w.toFixed(3)}`).join(', '),
      reference: `${config.packageBytes / MIB} MiB`, ratio: Math.max(...wan), goal: goals ? '<= 1.05' : '', pass: goals ? Math.max(...wan) <= 1.05 : null,
    },
    {
      bench: name, metric: 'DC upload / package', value: `${(payloadBytes(run.delta.dcSent) / MIB).toFixed(1)} MiB`,
      reference: `${config.packageBytes / MIB} MiB × ${config.branches} branches`, ratio: payloadBytes(run.delta.dcSent) / config.packageBytes, goal: '', pass: null,
    },
    {
      bench: name, metric: 'CPU until the last is done', value: `clients ${run.cpuSeconds.clients.toFixed(1)} s, DC ${run.cpuSeconds.dc.toFixed(1)} s`,
      reference: `load ${run.load.map((l) => l.toFixed(1)).join(' → ')}`, ratio: null, goal: '', pass: null,
    },
  ]
}

export async function run(): Promise<BenchOutcome> {
  const config = swarmConfig()
  const why = netnsUnavailable()
  if (why !== undefined) {
    console.error(`  swarm: skipped: ${why}`)
    return { rows: [{ bench: 'swarm', metric: 'skipped', value: why, reference: '', ratio: null, goal: '', pass: null }], data: { skipped: why } }
  }
  const topo = createTopology({ branches: config.branches, clientsPerBranch: config.clients, downlinkBitsPerSec: config.downlinkBitsPerSec })
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-bench-swarm-'))
  // Also when a signal ends the bench (netns.ts's handlers exit the process): the package and the clients' copies are large.
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true })
  process.on('exit', removeDir)
  const runs: SystemRun[] = []
  const rows: BenchRow[] = []
  try {
    const file = join(dir, 'src', 'install.wim')
    mkdirSync(join(dir, 'src'))
    execFileSync('sh', ['-c', `head -c ${config.packageBytes} '${cachedRandomFile('pack-2GiB.bin', 2 * 1024 ** 3)}' > '${file}'`])
    for (const system of config.systems) {
      const missing = missingFor(system)
      if (missing.length > 0) {
        console.error(`  swarm: ${system} skipped: ${missing.join(', ')} missing; ${missingTools()}`)
        rows.push({ bench: `swarm ${system}`, metric: 'skipped', value: `${missing.join(', ')} missing: ${missingTools()}`, reference: '', ratio: null, goal: '', pass: null })
        continue
      }
      const work = join(dir, system)
      mkdirSync(work)
      console.error(`  swarm: ${system}, ${config.branches} branches × ${config.clients} clients, ${config.packageBytes / MIB} MiB, ${config.downlinkBitsPerSec / 1e6} Mbit/s per branch downlink`)
      try {
        const prepared = await { peerstage, aria2c: aria2, nginx }[system](topo, config, work, file)
        runs.push(await measure(topo, config, system, prepared))
        rows.push(...rowsOf(runs.at(-1)!, config))
      } catch (err) {
        rows.push({ bench: `swarm ${system}`, metric: 'failed', value: (err as Error).message, reference: '', ratio: null, goal: '', pass: false })
      } finally {
        rmSync(work, { recursive: true, force: true })
      }
    }
    const ours = runs.find((r) => r.system === 'peerstage')
    const theirs = runs.find((r) => r.system === 'aria2c')
    const [a, b] = [ours && lastDone(ours), theirs && lastDone(theirs)]
    if (typeof a === 'number' && typeof b === 'number') {
      rows.push({ bench: 'swarm', metric: 'peerstage last done / aria2c last done', value: `${a.toFixed(2)} s`, reference: `aria2c ${b.toFixed(2)} s`, ratio: a / b, goal: '< 1', pass: a < b })
    }
    return { rows, data: { config, topology: { dc: DC_HOST, branches: topo.branches.map((br) => ({ subnet: br.subnet, clients: br.clients })) }, fluidBoundSeconds: fluidBoundSeconds(config), runs } }
  } finally {
    topo.destroy()
    removeDir()
    process.off('exit', removeDir)
  }
}
