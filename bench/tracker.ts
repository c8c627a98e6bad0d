/**
 * How many announces a second does the tracker answer, and how fast, with 10 000 and
 * 100 000 registered clients? The tracker (level store on disk, fastify) runs in one child
 * process pinned to one core, the load generator (64 keep-alive HTTP/1.1 connections from one
 * source address per subnet, one request in flight on each) in another pinned to the other
 * core. Reference, same run: the same load generator against a trivial fastify route on the
 * same core. Every announce is signed by its client's own Ed25519 key, as nodes sign them; the
 * measured ones are signed before the measured phase. PEERSTAGE_BENCH_TRACKER_CLIENT=node-http
 * makes the load use node:http's client; PEERSTAGE_BENCH_TRACKER_SIZES=5000 (clients, comma-
 * separated) and PEERSTAGE_BENCH_TRACKER_MEASURE=20000 (announces measured) make a smaller run,
 * e.g. a smoke test (the goal rows need the 100k size).
 * Then, at the largest size and when Debian's redis-server is there, one and two tracker
 * replicas on one Redis (pinned with the trackers; two replicas on two cores measure cost,
 * not speed-up): CPU per 1,000 announces in each replica and in Redis, and what that means
 * for 1 M clients at a 60 s interval.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { BenchOutcome, BenchRow } from './common.ts'
import { REDIS_MISSING, startBenchRedis, type BenchRedis } from './redis.ts'
import type { LoadArgs, LoadResult, ServerArgs } from './tracker-shape.ts'

const SERVER = fileURLToPath(new URL('./tracker-server.ts', import.meta.url))
const LOAD = fileURLToPath(new URL('./tracker-load.ts', import.meta.url))
const NODE = process.execPath
/** Positive integers from the environment variable `name` (comma-separated), or `fallback`. */
function envCounts(name: string, fallback: number[]): number[] {
  const text = process.env[name]
  if (text === undefined || text === '') return fallback
  const counts = text.split(',').map(Number)
  if (!counts.every((n) => Number.isSafeInteger(n) && n > 0)) throw new RangeError(`${name} must be positive integers separated by commas, not '${text}'`)
  return counts
}
const SIZES = envCounts('PEERSTAGE_BENCH_TRACKER_SIZES', [10_000, 100_000])
const CONCURRENCY = 64
const MEASURE_COUNT = envCounts('PEERSTAGE_BENCH_TRACKER_MEASURE', [100_000])[0]!
const MEASURE_MAX_MS = 20_000
const REGISTER_MAX_MS = 120_000
/** For the load child to make its clients' keys and sign the measured announces (not measured). */
const SETUP_MAX_MS = 120_000
const GOAL_RPS = 5000
const GOAL_P99_MS = 20
/** Set to a directory outside the repo to get a CPU profile of each tracker child. */
const CPU_PROF_DIR = process.env.PEERSTAGE_BENCH_CPU_PROF_DIR

const SERVER_CPU = '0'
const LOAD_CPU = '1'
const CLIENT = process.env.PEERSTAGE_BENCH_TRACKER_CLIENT === 'node-http' ? 'node:http' : 'raw HTTP/1.1'
const canPin = spawnSync('taskset', ['-c', '0,1', 'true']).status === 0

interface Child {
  proc: ChildProcess
  /** The next JSON line the child prints on stdout. */
  next(timeoutMs: number): Promise<unknown>
}

function startChild(cpu: string, script: string, arg: unknown, nodeArgs: string[] = []): Child {
  const argv = [...nodeArgs, script, JSON.stringify(arg)]
  // taskset execs node, so the pid is node's own.
  const proc = canPin ? spawn('taskset', ['-c', cpu, NODE, ...argv], { stdio: ['pipe', 'pipe', 'inherit'] }) : spawn(NODE, argv, { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  const waiting: Array<(line: string | undefined) => void> = []
  let ended = false
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const w = waiting.shift()
    if (w !== undefined) w(line)
    else lines.push(line)
  })
  proc.once('exit', () => {
    ended = true
    for (const w of waiting.splice(0)) w(undefined)
  })
  return {
    proc,
    next: (timeoutMs) => new Promise((resolve, reject) => {
      const got = (line: string | undefined): void => {
        clearTimeout(timer)
        if (line === undefined) reject(new Error(`${script} exited with ${proc.exitCode ?? proc.signalCode} before answering`))
        else resolve(JSON.parse(line))
      }
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(got), 1)
        reject(new Error(`${script} gave no answer in ${timeoutMs} ms`))
      }, timeoutMs)
      const line = lines.shift()
      if (line !== undefined) got(line)
      else if (ended) got(undefined)
      else waiting.push(got)
    }),
  }
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

/** Peak resident set of a live process, bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? Number.NaN : Number(m[1]) * 1024
}

interface Run { load: LoadResult, peakRssBytes: number }

/** How the trackers of one run keep their state: a level directory, or `replicas` trackers on one Redis. */
type Storage = { dir: string } | { redis: BenchRedis, replicas: number } | undefined

/** Server children (echo, a fresh tracker, or replicas on a fresh Redis), one load child against them. */
async function measure(mode: 'echo' | 'tracker', clients: number, procs: ChildProcess[], storage: Storage): Promise<Run> {
  const serverArgs: ServerArgs = { mode, ...(storage !== undefined && ('dir' in storage ? { dir: storage.dir } : { store: storage.redis.url })) }
  const servers = Array.from({ length: storage !== undefined && 'replicas' in storage ? storage.replicas : 1 }, () =>
    startChild(SERVER_CPU, SERVER, serverArgs, mode === 'tracker' && CPU_PROF_DIR !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : []))
  procs.push(...servers.map((s) => s.proc))
  try {
    const ports: number[] = []
    for (const server of servers) ports.push((await server.next(30_000) as { port: number }).port)
    const loadArgs: LoadArgs = {
      ports,
      mode,
      clients,
      concurrency: CONCURRENCY,
      warmupRequests: mode === 'echo' ? 10_000 : 0,
      registerMaxMs: REGISTER_MAX_MS,
      measureCount: MEASURE_COUNT,
      measureMaxMs: MEASURE_MAX_MS,
      serverPids: servers.map((server) => server.proc.pid!),
      redisPid: storage !== undefined && 'redis' in storage ? storage.redis.proc.pid : null,
    }
    const loader = startChild(LOAD_CPU, LOAD, loadArgs)
    procs.push(loader.proc)
    const load = await loader.next(SETUP_MAX_MS + REGISTER_MAX_MS + MEASURE_MAX_MS + 60_000) as LoadResult
    await stop(loader.proc)
    return { load, peakRssBytes: Math.max(...servers.map((server) => peakRss(server.proc.pid!))) }
  } finally {
    await Promise.all(servers.map((server) => stop(server.proc)))
  }
}

const ms = (x: number | null): string => (x === null || Number.isNaN(x) ? '-' : `${x.toFixed(2)} ms`)
const rps = (x: number): string => `${x.toFixed(0)} req/s`
const mb = (x: number): string => `${(x / 2 ** 20).toFixed(0)} MiB`
const k = (n: number): string => `${n / 1000}k`

export async function run(): Promise<BenchOutcome> {
  const dirs: string[] = []
  const procs: ChildProcess[] = []
  try {
    if (!canPin) console.error('  taskset is missing: the children are not pinned to one core each')
    console.error('  reference: fastify POST /echo')
    const echo = await measure('echo', 10_000, procs, undefined)
    const e = echo.load.measure
    console.error(`  echo: ${rps(e.perSecond)}, p50 ${ms(e.p50Ms)}, p99 ${ms(e.p99Ms)}, server CPU ${(echo.load.serverCpu * 100).toFixed(0)} %, load CPU ${(echo.load.loadCpu * 100).toFixed(0)} % (loop delay p99 ${ms(echo.load.loadLoopDelayMs.p99)})`)
    const runs: Array<{ clients: number } & Run> = []
    for (const clients of SIZES) {
      const dir = mkdtempSync(join(tmpdir(), 'peerstage-bench-tracker-'))
      dirs.push(dir)
      console.error(`  tracker with ${clients} clients`)
      const r = await measure('tracker', clients, procs, { dir })
      rmSync(dir, { recursive: true, force: true })
      const m = r.load.measure
      console.error(`  ${k(clients)}: ${rps(m.perSecond)}, p50 ${ms(m.p50Ms)}, p99 ${ms(m.p99Ms)}, max ${ms(m.maxMs)}, errors ${m.errors}, bad answers ${m.badAnswers}/${m.sampled}, tracker CPU ${(r.load.serverCpu * 100).toFixed(0)} %, load CPU ${(r.load.loadCpu * 100).toFixed(0)} % (loop delay p99 ${ms(r.load.loadLoopDelayMs.p99)}), peak RSS ${mb(r.peakRssBytes)}`)
      if (m.firstError !== null) console.error(`    first error: ${m.firstError}`)
      runs.push({ clients, ...r })
    }

    // Replicas on Redis, at the largest size: Redis pinned with the trackers, the load alone on the other core.
    const redisClients = Math.max(...SIZES)
    const redisRuns: Array<{ replicas: number } & Run> = []
    for (const replicas of [1, 2]) {
      const redis = await startBenchRedis(canPin ? ['taskset', '-c', SERVER_CPU] : [])
      if (redis === undefined) {
        console.error(`  ${REDIS_MISSING}`)
        break
      }
      try {
        console.error(`  ${replicas} tracker replica${replicas === 1 ? '' : 's'} on Redis with ${redisClients} clients`)
        const r = await measure('tracker', redisClients, procs, { redis, replicas })
        const m = r.load.measure
        console.error(`  ${k(redisClients)}, ${replicas} on Redis: ${rps(m.perSecond)}, p50 ${ms(m.p50Ms)}, p99 ${ms(m.p99Ms)}, errors ${m.errors}, bad answers ${m.badAnswers}/${m.sampled}, trackers CPU ${r.load.serverCpus.map((c) => `${(c * 100).toFixed(0)} %`).join(' + ')}, Redis CPU ${((r.load.redisCpu ?? 0) * 100).toFixed(0)} %`)
        if (m.firstError !== null) console.error(`    first error: ${m.firstError}`)
        redisRuns.push({ replicas, ...r })
      } finally {
        await redis.stop()
      }
    }

    const rows: BenchRow[] = []
    rows.push({ bench: 'tracker', metric: `reference: fastify POST /echo, 1 core, ${CLIENT} client`, value: `${rps(e.perSecond)}, p50 ${ms(e.p50Ms)}, p99 ${ms(e.p99Ms)}`, reference: `server CPU ${(echo.load.serverCpu * 100).toFixed(0)} %`, ratio: null, goal: '', pass: e.errors === 0 ? null : false })
    for (const r of runs) {
      const m = r.load.measure
      const n = k(r.clients)
      const reg = r.load.register
      const failed = m.errors + m.badAnswers + reg.errors + (reg.done < reg.requested ? 1 : 0) + (r.load.registrations !== r.clients ? 1 : 0)
      rows.push({ bench: 'tracker', metric: `announces/s, ${n} clients`, value: rps(m.perSecond), reference: `echo ${rps(e.perSecond)}`, ratio: m.perSecond / e.perSecond, goal: '', pass: null })
      rows.push({ bench: 'tracker', metric: `announce p50, ${n} clients`, value: ms(m.p50Ms), reference: `echo ${ms(e.p50Ms)}`, ratio: m.p50Ms / e.p50Ms, goal: '', pass: null })
      rows.push({ bench: 'tracker', metric: `announce p99, ${n} clients`, value: ms(m.p99Ms), reference: `echo ${ms(e.p99Ms)}`, ratio: m.p99Ms / e.p99Ms, goal: '', pass: null })
      rows.push({ bench: 'tracker', metric: `tracker CPU while measured, ${n} clients`, value: `${(r.load.serverCpu * 100).toFixed(0)} % of a core`, reference: `load gen ${(r.load.loadCpu * 100).toFixed(0)} %`, ratio: r.load.serverCpu, goal: '', pass: null })
      rows.push({ bench: 'tracker', metric: `tracker peak RSS, ${n} clients`, value: mb(r.peakRssBytes), reference: `echo ${mb(echo.peakRssBytes)}`, ratio: r.peakRssBytes / echo.peakRssBytes, goal: '', pass: null })
      rows.push({
        bench: 'tracker',
        metric: `errors, ${n} clients`,
        value: `${m.errors} of ${m.count}, ${m.badAnswers} bad of ${m.sampled} checked`,
        reference: `registered ${reg.done}/${reg.requested} (${reg.errors} errors), tracker says ${r.load.registrations ?? '?'}`,
        ratio: m.count === 0 ? null : (m.errors + m.badAnswers) / m.count,
        goal: 'none',
        pass: failed === 0,
      })
    }
    const big = runs.find((r) => r.clients === 100_000)
    if (big !== undefined) {
      const m = big.load.measure
      rows.push({ bench: 'tracker', metric: 'goal: announces/s, 100k clients', value: rps(m.perSecond), reference: `goal ${GOAL_RPS}/s`, ratio: m.perSecond / GOAL_RPS, goal: `>= ${GOAL_RPS}/s`, pass: m.perSecond >= GOAL_RPS })
      rows.push({ bench: 'tracker', metric: 'goal: announce p99, 100k clients', value: ms(m.p99Ms), reference: `goal ${GOAL_P99_MS} ms`, ratio: m.p99Ms / GOAL_P99_MS, goal: `< ${GOAL_P99_MS} ms`, pass: m.p99Ms < GOAL_P99_MS })
    }
    rows.push(...redisRows(redisClients, redisRuns, e.perSecond))
    return {
      rows,
      data: {
        client: CLIENT, pinned: canPin, serverCpu: SERVER_CPU, loadCpu: LOAD_CPU, concurrency: CONCURRENCY, measureCount: MEASURE_COUNT, measureMaxMs: MEASURE_MAX_MS,
        echo, runs, redisClients, redisRuns,
      },
    }
  } finally {
    await Promise.all(procs.map(stop))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}

/** Announces a second that 1 M clients at a 60 s interval make. */
const MILLION_AT_60S = 1_000_000 / 60

/**
 * Redis runs: throughput and latency per setup, CPU per 1,000 announces in each replica and
 * in Redis, and what those say on paper for 1 M clients at a 60 s interval.
 */
function redisRows(clients: number, runs: Array<{ replicas: number } & Run>, echoPerSecond: number): BenchRow[] {
  const rows: BenchRow[] = []
  const n = k(clients)
  for (const r of runs) {
    const m = r.load.measure
    const setup = `Redis, ${r.replicas} replica${r.replicas === 1 ? '' : 's'}`
    const perThousand = (share: number): number => (share / m.perSecond) * 1000
    const replicaCost = r.load.serverCpus.map(perThousand)
    const redisCost = perThousand(r.load.redisCpu ?? Number.NaN)
    const failed = m.errors + m.badAnswers + r.load.register.errors
    rows.push({ bench: 'tracker', metric: `${setup}: announces/s, ${n} clients`, value: rps(m.perSecond), reference: `echo ${rps(echoPerSecond)}`, ratio: m.perSecond / echoPerSecond, goal: r.replicas === 2 ? '2 cores: cost, not speed-up' : '', pass: failed === 0 ? null : false })
    rows.push({ bench: 'tracker', metric: `${setup}: announce p50 / p99`, value: `${ms(m.p50Ms)} / ${ms(m.p99Ms)}`, reference: `errors ${m.errors}, bad ${m.badAnswers}/${m.sampled}`, ratio: null, goal: '', pass: null })
    rows.push({ bench: 'tracker', metric: `${setup}: CPU-s per 1,000 announces, each replica`, value: replicaCost.map((c) => c.toFixed(3)).join(' + '), reference: `Redis ${redisCost.toFixed(3)}`, ratio: redisCost / (replicaCost.reduce((a, b) => a + b, 0) / replicaCost.length), goal: '', pass: null })
    if (r.replicas === 1) {
      const replicas = (MILLION_AT_60S * replicaCost[0]!) / 1000
      const redisCores = (MILLION_AT_60S * redisCost) / 1000
      rows.push({ bench: 'tracker', metric: 'paper: 1 M clients at 60 s, replica cores', value: replicas.toFixed(1), reference: `${MILLION_AT_60S.toFixed(0)} announces/s`, ratio: null, goal: '', pass: null })
      rows.push({ bench: 'tracker', metric: 'paper: 1 M clients at 60 s, Redis cores (one Redis runs on one)', value: redisCores.toFixed(2), reference: '1 core', ratio: redisCores, goal: '< 1 core', pass: redisCores < 1 })
    }
  }
  return rows
}
