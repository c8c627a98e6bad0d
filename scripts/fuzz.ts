/**
 * `npm run fuzz [-- FILE…]`: the fuzz tests (test/fuzz/) soaked. A random seed unless
 * PEERSTAGE_FUZZ_SEED gives one, printed first and last so a failure replays with it;
 * PEERSTAGE_FUZZ_SECONDS per target (default 30) or PEERSTAGE_FUZZ_RUNS inputs per target.
 * Prints how many inputs each target ran and how they ended.
 */
import { spawnSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const env = { ...process.env }
env.PEERSTAGE_FUZZ_SEED ??= String(randomInt(2 ** 31))
if (env.PEERSTAGE_FUZZ_RUNS === undefined) env.PEERSTAGE_FUZZ_SECONDS ??= '30'
const dir = mkdtempSync(join(tmpdir(), 'peerstage-fuzz-'))
env.PEERSTAGE_FUZZ_REPORT = join(dir, 'report.jsonl')
const replay = `PEERSTAGE_FUZZ_SEED=${env.PEERSTAGE_FUZZ_SEED} npm run fuzz`
const budget = env.PEERSTAGE_FUZZ_RUNS === undefined ? `${env.PEERSTAGE_FUZZ_SECONDS} s per target` : `${env.PEERSTAGE_FUZZ_RUNS} inputs per target`
console.log(`fuzz: seed ${env.PEERSTAGE_FUZZ_SEED}, ${budget} (replay: ${replay})`)

const files = process.argv.slice(2)
// The default reporter only: a soak must not overwrite the suite's JSON report.
const run = spawnSync(join('node_modules', '.bin', 'vitest'), ['run', '--reporter=default', ...(files.length > 0 ? files : ['test/fuzz/'])], { env, stdio: 'inherit' })

const rows = existsSync(env.PEERSTAGE_FUZZ_REPORT)
  ? readFileSync(env.PEERSTAGE_FUZZ_REPORT, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { target: string, runs: number, failed: boolean, outcomes: Record<string, number> })
  : []
rmSync(dir, { recursive: true, force: true })
console.log('\ntarget                          inputs  result  outcomes')
for (const r of rows) {
  const outcomes = Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k.replace(/^PEERSTAGE_/, '')} ${n}`).join(', ')
  console.log(`${r.target.padEnd(30)} ${String(r.runs).padStart(7)}  ${r.failed ? 'FAILED' : 'ok    '}  ${outcomes}`)
}
console.log(`\nfuzz: seed ${env.PEERSTAGE_FUZZ_SEED}; ${run.status === 0 ? 'no failure' : `a failure: replay it with ${replay}`}`)
process.exit(run.status ?? 1)
