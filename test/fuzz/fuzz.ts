import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll } from 'vitest'
import { isPeerstageError } from '../../common/index.ts'

/**
 * How the fuzz tests run. Inside `npm test`: a fixed seed and each target's own small
 * `numRuns`, so the suite is the same every time and fast. `npm run fuzz` (scripts/fuzz.ts)
 * soaks them: a random or given seed (printed, so a failure replays), runs or seconds per target.
 *
 * - PEERSTAGE_FUZZ_SEED: the seed (an integer). @default 19 (issue 19)
 * - PEERSTAGE_FUZZ_RUNS: inputs per target, instead of the target's own count
 * - PEERSTAGE_FUZZ_SECONDS: run each target this long (bounded by PEERSTAGE_FUZZ_RUNS when also given)
 * - PEERSTAGE_FUZZ_REPORT: a file to append one JSON line per target to (`{target, runs, seed}`)
 */
const env = process.env
export const FUZZ_SEED = env.PEERSTAGE_FUZZ_SEED === undefined ? 19 : Number(env.PEERSTAGE_FUZZ_SEED)
if (!Number.isSafeInteger(FUZZ_SEED)) throw new TypeError(`PEERSTAGE_FUZZ_SEED must be an integer, got '${env.PEERSTAGE_FUZZ_SEED}'`)
const RUNS = env.PEERSTAGE_FUZZ_RUNS === undefined ? undefined : Number(env.PEERSTAGE_FUZZ_RUNS)
const SECONDS = env.PEERSTAGE_FUZZ_SECONDS === undefined ? undefined : Number(env.PEERSTAGE_FUZZ_SECONDS)
for (const [name, v] of [['PEERSTAGE_FUZZ_RUNS', RUNS], ['PEERSTAGE_FUZZ_SECONDS', SECONDS]] as const) {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new TypeError(`${name} must be a positive number, got '${env[name]}'`)
}

/** A vitest timeout for one target: its soak time plus room, or the suite's default. */
export function fuzzTimeoutMs(inSuiteMs = 60_000): number {
  return SECONDS === undefined ? (RUNS === undefined ? inSuiteMs : 3_600_000) : SECONDS * 1000 + 120_000
}

/** Longest a single input may take before it counts as a hang (generous: a loaded machine, not a speed test). */
export const HANG_MS = 10_000

/**
 * Runs `property` over `arbitrary` at the fuzz seed: `runs` inputs in the suite, or as the
 * environment says. Throws fast-check's report (seed, path, counterexample) on a failure.
 */
export async function fuzz<T>(target: string, arbitrary: fc.Arbitrary<T>, property: (input: T) => void | Promise<void>, runs: number): Promise<number> {
  outcomes.clear()
  const numRuns = RUNS ?? (SECONDS === undefined ? runs : 1e9)
  const details = await fc.check(fc.asyncProperty(arbitrary, async (input) => {
    await withinHangBound(target, property(input))
  }), {
    seed: FUZZ_SEED,
    numRuns,
    ...(SECONDS !== undefined && { interruptAfterTimeLimit: SECONDS * 1000, markInterruptAsFailure: false }),
    includeErrorInReport: true,
  })
  if (env.PEERSTAGE_FUZZ_REPORT !== undefined) {
    appendFileSync(env.PEERSTAGE_FUZZ_REPORT, JSON.stringify({ target, runs: details.numRuns, seed: FUZZ_SEED, failed: details.failed, outcomes: Object.fromEntries(outcomes) }) + '\n')
  }
  if (details.failed) throw new Error(`fuzz target '${target}' failed (replay: PEERSTAGE_FUZZ_SEED=${FUZZ_SEED} npm run fuzz)\n${fc.defaultReportMessage(details)}`)
  return details.numRuns
}

/** A result that takes longer than HANG_MS is a hang: the input is reported as such. */
async function withinHangBound(target: string, result: void | Promise<void>): Promise<void> {
  if (result === undefined) return
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${target}: no result after ${HANG_MS} ms (a hang)`)), HANG_MS)
  })
  try {
    await Promise.race([result, hang])
  } finally {
    clearTimeout(timer)
  }
}

/** How the inputs of the current target ended (`ok` or the code), for the soak's report: did the fuzzer get deep? */
const outcomes = new Map<string, number>()
export function countOutcome(outcome: string): void {
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
}

/**
 * The property every target shares: `run` gives a result, or throws a PeerstageError with one
 * of `codes` (a clear error with a stable code). Anything else thrown is the defect the fuzzer
 * looks for (a TypeError from deep inside, a RangeError from an allocation): rethrown.
 */
export async function resultOrCode<R>(codes: readonly string[], run: () => R | Promise<R>): Promise<{ ok: true, value: R } | { ok: false, code: string }> {
  try {
    const value = await run()
    countOutcome('ok')
    return { ok: true, value }
  } catch (err) {
    if (isPeerstageError(err) && codes.includes(err.code)) {
      if (typeof err.message !== 'string' || err.message.length === 0) throw new Error(`${err.code} without a message`)
      countOutcome(err.code)
      return { ok: false, code: err.code }
    }
    throw err
  }
}

/** Strings a parser meets in the wild and ones meant to hurt: unicode, control characters, long runs, prototype keys. */
export function nastyString(maxLength = 64): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.constantFrom('', ' ', '\0', '__proto__', 'constructor', 'toString', 'NaN', 'Infinity', '-0', '1e309', '0x10', '\u2028', '\ud800', '..', '/', '\\', 'C:', '%00', '${x}'),
    fc.nat({ max: 100_000 }).map((n) => 'x'.repeat(n)),
  )
}

/** Any JSON value, deep and wide enough to reach past the first checks. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 4 })

/**
 * A value and a mutation of it: one field somewhere in it replaced by another value, deleted,
 * or added. Valid inputs mutated reach the checks deep inside; raw values reach the first.
 */
export function mutated(value: unknown, replacement: fc.Arbitrary<unknown> = fc.oneof(anyJson, nastyString(), fc.integer(), fc.double())): fc.Arbitrary<unknown> {
  const paths = pathsOf(value)
  if (paths.length === 0) return replacement
  return fc.tuple(fc.constantFrom(...paths), fc.constantFrom('replace', 'delete', 'add'), replacement, nastyString(16)).map(([path, how, v, key]) => {
    const copy = structuredClone(value) as any
    if (path.length === 0) return v
    let parent = copy
    for (const k of path.slice(0, -1)) parent = parent[k]
    const last = path.at(-1)!
    if (how === 'replace') parent[last] = v
    else if (how === 'delete') Array.isArray(parent) ? parent.splice(last as number, 1) : delete parent[last]
    else if (typeof parent[last] === 'object' && parent[last] !== null) {
      if (Array.isArray(parent[last])) parent[last].push(v)
      else Object.defineProperty(parent[last], key, { value: v, enumerable: true, writable: true, configurable: true })
    } else parent[last] = v
    return copy
  })
}

/** Every path (keys and indexes) into a JSON value, the root included. */
function pathsOf(value: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at)
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...at, i], out))
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, k], out)
  return out
}

/** Applies up to `n` mutations in a row, so more than one rule is broken at once. */
export function mutatedMany(value: unknown, n = 3): fc.Arbitrary<unknown> {
  let arb: fc.Arbitrary<unknown> = fc.constant(value)
  for (let i = 0; i < n; i++) arb = arb.chain((v) => fc.oneof(fc.constant(v), mutated(v)))
  return arb
}

/** A temporary directory for the whole file (call it at the top level), removed after its last test. */
export function fileTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-fuzz-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
