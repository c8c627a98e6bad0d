/**
 * `npm run bench [-- NAME...]`: runs the named benches (all by default), prints one table,
 * and writes each outcome to bench/results/NAME-<time>.json and NAME-latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildBundle } from '../scripts/build.ts'
import { RESULTS_DIR, type BenchOutcome, type BenchRow } from './common.ts'

const BENCHES: Record<string, () => Promise<{ run: () => Promise<BenchOutcome> }>> = {
  'lease-rate': () => import('./lease-rate.ts'),
  'manifest-memory': () => import('./manifest-memory.ts'),
  pack: () => import('./pack.ts'),
  push: () => import('./push.ts'),
  replication: () => import('./replication.ts'),
  swarm: () => import('./swarm.ts'),
  throttle: () => import('./throttle.ts'),
  tracker: () => import('./tracker.ts'),
  transport: () => import('./transport.ts'),
  wire: () => import('./wire.ts'),
}

const names = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const unknown = names.filter((n) => !(n in BENCHES))
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`)
  process.exit(2)
}

// Every bench runs the CLI as a service would: bundled, built from this checkout now.
await buildBundle()
const rows: BenchRow[] = []
mkdirSync(RESULTS_DIR, { recursive: true })
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  console.error(`running bench ${name}…`)
  const outcome = await (await BENCHES[name]!()).run()
  rows.push(...outcome.rows)
  const doc = JSON.stringify({ bench: name, at: new Date().toISOString(), rows: outcome.rows, data: outcome.data }, null, 2)
  writeFileSync(join(RESULTS_DIR, `${name}-${Date.now()}.json`), doc)
  writeFileSync(join(RESULTS_DIR, `${name}-latest.json`), doc)
}

const table = rows.map((r) => [r.bench, r.metric, r.value, r.reference, r.ratio === null ? '' : r.ratio.toFixed(3), r.goal, r.pass === null ? '' : r.pass ? 'ok' : 'MISS'])
const head = ['bench', 'metric', 'value', 'reference', 'ratio', 'goal', '']
const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)))
for (const r of [head, ...table]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd())
