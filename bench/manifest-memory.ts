/**
 * How much memory does a big manifest cost the processes that hold it? A manifest of N
 * synthetic chunks (10^5 and 10^6: 6 GiB and 64 GiB packages at 64 KiB a chunk) is built and
 * signed here; then each of three child processes, started with --expose-gc, loads it and
 * reports what it still holds after a full GC, per chunk:
 *
 * - `parse`: parseManifest (schema, signature, sizes) and the SignedManifest it returns, and
 *   the parse time (best of PARSE_RUNS);
 * - `dp`: what a DP seeding the package holds: parsed, added to a real store (level) as
 *   served in place, every piece marked present (the chunk index written), and its swarm;
 * - `tracker`: a real Tracker (level store) that lists the package in its catalogue.
 *
 * The chunk contents do not exist: no step here reads them (a DP verifies its source first;
 * that costs time, not memory held). Reference: the 32 bytes of a chunk's hash.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generatePublisherKeys, HASH_BYTES, loadPrivateKey, loadPublicKey, parseManifest, publisherOf, signManifest } from '../chunker/index.ts'
// The tests' builder (no vitest in it): one synthetic manifest for the bench and the big-manifest tests.
import { syntheticManifest } from '../test/helpers/synthetic-manifest.ts'
import type { BenchOutcome, BenchRow } from './common.ts'

const CHUNK_COUNTS = (process.env.PEERSTAGE_BENCH_MANIFEST_CHUNKS ?? '100000,1000000').split(',').map(Number)
const FILES = 8
const PARSE_RUNS = 3
/** Held bytes per chunk beyond the hash the goal allows ("a few tens of bytes over the 32-byte hash"). */
const GOAL_EXTRA_BYTES = 64
const SCENARIOS = ['parse', 'dp', 'tracker'] as const
type Scenario = typeof SCENARIOS[number]

interface ChildReport {
  scenario: Scenario
  chunks: number
  /** heapUsed + external after a full GC, minus the same before the manifest was read. */
  heldBytes: number
  /** RSS after, minus RSS before. */
  rssBytes: number
  /** Peak RSS of the process minus RSS before (the transient cost). */
  peakRssBytes: number
  /** Parse time, best of PARSE_RUNS: wall clock, and CPU time (user + system), steadier on a shared machine. */
  parseMs?: number
  parseCpuMs?: number
}

/** Signs the synthetic manifest of `count` chunks (16–112 KiB, 64 KiB average) over FILES files the tests use; returns its canonical text. */
function signedSyntheticManifest(count: number, privateKeyPath: string): string {
  return signManifest({ ...syntheticManifest(count, FILES), version: String(count) }, loadPrivateKey(privateKeyPath)).canonical
}

function childRun(scenario: Scenario, chunks: number, manifestPath: string, publicKeyPath: string, work: string): ChildReport {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'child', scenario, String(chunks), manifestPath, publicKeyPath, work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 })
  return JSON.parse(out) as ChildReport
}

export async function run(): Promise<BenchOutcome> {
  const work = mkdtempSync(join(tmpdir(), 'peerstage-bench-manifest-'))
  const reports: ChildReport[] = []
  const manifestBytes: Record<number, number> = {}
  try {
    const keys = generatePublisherKeys(join(work, 'keys'))
    for (const count of CHUNK_COUNTS) {
      const path = join(work, `big-${count}.json`)
      const text = signedSyntheticManifest(count, keys.privateKeyPath)
      writeFileSync(path, text)
      manifestBytes[count] = Buffer.byteLength(text)
      for (const scenario of SCENARIOS) {
        const dir = join(work, `${scenario}-${count}`)
        reports.push(childRun(scenario, count, path, keys.publicKeyPath, dir))
        rmSync(dir, { recursive: true, force: true })
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  const rows: BenchRow[] = reports.map((r) => {
    const perChunk = r.heldBytes / r.chunks
    return {
      bench: 'manifest-memory',
      metric: `${r.scenario} holds, ${r.chunks.toExponential(0)} chunks${r.parseCpuMs === undefined ? '' : ` (parse ${r.parseCpuMs.toFixed(0)} CPU-ms, ${r.parseMs!.toFixed(0)} ms)`}`,
      value: `${perChunk.toFixed(1)} B/chunk`,
      reference: `hash 32 B; RSS +${(r.rssBytes / r.chunks).toFixed(0)} B, peak +${(r.peakRssBytes / r.chunks).toFixed(0)} B/chunk`,
      ratio: perChunk / HASH_BYTES,
      goal: `<= ${HASH_BYTES + GOAL_EXTRA_BYTES} B/chunk`,
      pass: perChunk <= HASH_BYTES + GOAL_EXTRA_BYTES,
    }
  })
  return { rows, data: { manifestBytes, reports } }
}

// ---- the child: loads the manifest one way, holds it, reports what that costs ----

function held(): { heap: number, rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  for (let i = 0; i < 3; i++) gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed + m.external, rss: m.rss }
}

async function child(scenario: Scenario, chunks: number, manifestPath: string, publicKeyPath: string, work: string): Promise<ChildReport> {
  const [{ Store }, { PackageSwarm }, { silentLogger }, tracker] = await Promise.all([
    import('../node/store/index.ts'), import('../node/swarm.ts'), import('../common/index.ts'), import('../tracker/index.ts'),
  ])
  const trusted = [publisherOf(loadPublicKey(publicKeyPath))]
  // What holds the package is made first: the baseline holds it empty (and every module's code).
  const t = scenario !== 'tracker' ? undefined : await tracker.Tracker.start(
    tracker.createTrackerConfig({ adminToken: 'bench-admin-token', dpToken: 'bench-dp-token', trust: [publicKeyPath], sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }] }),
    { store: await tracker.LevelTrackerStore.open(join(work, 'tracker')) })
  const store = scenario !== 'dp' ? undefined : await Store.open(join(work, 'db'))
  // The baseline comes before the text is read: the text is part of what loading costs.
  const before = held()
  let text: string | undefined = readFileSync(manifestPath, 'utf8')
  const keep: unknown[] = []
  let parseMs: number | undefined
  let parseCpuMs: number | undefined
  if (t !== undefined) {
    await t.addPackage(text)
  } else if (store === undefined) {
    parseMs = parseCpuMs = Number.POSITIVE_INFINITY
    for (let i = 0; i < PARSE_RUNS; i++) {
      keep.length = 0
      const t0 = performance.now()
      const cpu0 = process.cpuUsage()
      keep.push(parseManifest(text, { trusted }))
      const cpu = process.cpuUsage(cpu0)
      parseMs = Math.min(parseMs, performance.now() - t0)
      parseCpuMs = Math.min(parseCpuMs, (cpu.user + cpu.system) / 1000)
    }
  } else {
    const pkg = await store.addPackage(parseManifest(text, { trusted }), join(work, 'source'), { readOnly: true })
    await pkg.markPresent(Array.from({ length: pkg.pieceCount }, (_, i) => i))
    keep.push(pkg, new PackageSwarm(pkg, {}, silentLogger()))
  }
  text = undefined
  const after = held()
  const peakRss = process.resourceUsage().maxRSS * 1024
  await t?.stop()
  await store?.close()
  return { scenario, chunks, heldBytes: after.heap - before.heap, rssBytes: after.rss - before.rss, peakRssBytes: peakRss - before.rss, ...(parseMs !== undefined && { parseMs, parseCpuMs }) }
}

if (process.argv[2] === 'child') {
  const [scenario, chunks, manifestPath, publicKeyPath, work] = process.argv.slice(3) as [Scenario, string, string, string, string]
  process.stdout.write(`${JSON.stringify(await child(scenario, Number(chunks), manifestPath, publicKeyPath, work))}\n`)
}
