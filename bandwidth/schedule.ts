import { parse as parseYaml } from 'yaml'
import { systemClock, type Clock } from './clock.ts'
import { BandwidthErrorCodes, bandwidthError } from './errors.ts'
import { parseRate, UNLIMITED, type Rate } from './rate.ts'
import { parseWindow, windowCovers, windowEdges, windowWeeklyMinutes, type BandwidthWindow, type WindowSpec } from './window.ts'
import { checkTimeZone, localMinuteOfWeek, WEEK_MINUTES } from './zoned-time.ts'

/**
 * A scope's bandwidth schedule: windows on the local wall clock of one IANA time zone,
 * and a default for the times no window covers (absent: inherit from the wider scope).
 *
 * Precedence, everywhere the same:
 * - Across scopes the most specific wins: a subnet's window over its site's, a site's over
 *   the global one. Where no scope has a window in force, the most specific default applies,
 *   and with no default anywhere the rate is unlimited.
 * - Within a scope, where windows overlap, the narrower one (fewer minutes a week) wins, and
 *   of two equally narrow ones the later in the list. So `Mon-Fri 12:00-13:00 0` closes the
 *   lunch hour inside `Mon-Fri 08:00-18:00 2Mbit/s` in whichever order they are written.
 *
 * Daylight saving: windows follow the wall clock. On the spring-forward night a window that
 * spans the skipped hour is an hour shorter in real time, and one that starts inside it
 * starts at the first instant after the jump; on the fall-back night a window spanning the
 * repeated hour is in force through both passes of it. Rates are bytes per second, so
 * nothing is counted twice either way.
 */
export interface Schedule {
  timeZone: string
  /** undefined: inherit from the wider scope. */
  defaultRate: Rate | undefined
  windows: readonly BandwidthWindow[]
}

/** The schema shared by YAML (operators) and JSON (API). */
export interface ScheduleSpec {
  /** IANA name. @default 'UTC' */
  timezone?: string
  /** A rate: `unlimited`, `0`, `2Mbit/s`, … */
  default?: string | number
  windows?: Array<string | WindowSpec>
}

const SPEC_KEYS = ['timezone', 'default', 'windows']

/** Validates a schedule spec; `where` names it in errors, e.g. "site leeds". */
export function parseSchedule(input: unknown, where: string, inheritedTimeZone = 'UTC'): Schedule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw bandwidthError(BandwidthErrorCodes.BAD_SCHEDULE, `the schedule of ${where} must be a mapping with timezone, default and windows`)
  }
  const spec = input as Record<string, unknown>
  for (const k of Object.keys(spec)) {
    if (!SPEC_KEYS.includes(k)) throw bandwidthError(BandwidthErrorCodes.BAD_SCHEDULE, `unknown key '${k}' in the schedule of ${where} (expected ${SPEC_KEYS.join(', ')})`)
  }
  if (spec.timezone !== undefined && typeof spec.timezone !== 'string') throw bandwidthError(BandwidthErrorCodes.BAD_SCHEDULE, `timezone of ${where} must be a string`)
  const timeZone = checkTimeZone((spec.timezone as string | undefined) ?? inheritedTimeZone, where)
  const defaultRate = spec.default === undefined ? undefined : parseRate(spec.default as string, `the default rate of ${where}`)
  if (spec.windows !== undefined && !Array.isArray(spec.windows)) throw bandwidthError(BandwidthErrorCodes.BAD_SCHEDULE, `windows of ${where} must be a list`)
  const windows = ((spec.windows ?? []) as Array<string | WindowSpec>).map((w, i) => parseWindow(w, `window ${i + 1} of ${where}`))
  return { timeZone, defaultRate, windows }
}

/** Parses a schedule written in YAML or JSON (JSON is YAML): one schema for both. */
export function parseScheduleText(text: string, where: string): Schedule {
  let value: unknown
  try {
    value = parseYaml(text)
  } catch (err) {
    throw bandwidthError(BandwidthErrorCodes.BAD_SCHEDULE, `the schedule of ${where} is not valid YAML or JSON: ${(err as Error).message}`, { cause: err })
  }
  return parseSchedule(value, where)
}

/** The rate in force, and why. */
export interface RateDecision {
  rate: Rate
  /** Index in the scope list of the deciding scope, or -1 for the unlimited fallback. */
  scope: number
  /** The deciding window, or undefined when a default decided. */
  window: BandwidthWindow | undefined
}

function windowAt(s: Schedule, time: Date): BandwidthWindow | undefined {
  const minute = localMinuteOfWeek(time, s.timeZone)
  let best: BandwidthWindow | undefined
  for (const w of s.windows) {
    if (windowCovers(w, minute) && (best === undefined || windowWeeklyMinutes(w) <= windowWeeklyMinutes(best))) best = w
  }
  return best
}

/** The rate at `time` for scopes listed most specific first (subnet, site, global). */
export function rateAt(scopes: readonly Schedule[], time: Date): RateDecision {
  for (let i = 0; i < scopes.length; i++) {
    const w = windowAt(scopes[i]!, time)
    if (w !== undefined) return { rate: w.rate, scope: i, window: w }
  }
  for (let i = 0; i < scopes.length; i++) {
    const d = scopes[i]!.defaultRate
    if (d !== undefined) return { rate: d, scope: i, window: undefined }
  }
  return { rate: UNLIMITED, scope: -1, window: undefined }
}

const MINUTE = 60_000
/** Look this far ahead; a schedule repeats weekly, so a week and a day finds every change. */
const HORIZON_MS = 8 * 24 * 60 * MINUTE

/**
 * The first instant after `time` at which the rate changes, or undefined when it never
 * does. Callers set a timer for it instead of polling.
 */
export function nextChange(scopes: readonly Schedule[], time: Date): Date | undefined {
  const current = rateAt(scopes, time).rate
  const from = time.getTime()
  const candidates = new Set<number>()
  for (const s of scopes) {
    const edges = new Set(s.windows.flatMap(windowEdges))
    for (const edge of edges) for (const t of edgeInstants(s.timeZone, edge, from)) candidates.add(t)
    for (const t of offsetChanges(s.timeZone, from)) candidates.add(t)
  }
  for (const t of [...candidates].filter((c) => c > from && c <= from + HORIZON_MS).sort((a, b) => a - b)) {
    if (rateAt(scopes, new Date(t)).rate !== current) return new Date(t)
  }
  return undefined
}

/** A difference of minutes-of-week folded into [-half a week, half a week). */
function foldWeek(diff: number): number {
  return ((diff + WEEK_MINUTES / 2) % WEEK_MINUTES + WEEK_MINUTES) % WEEK_MINUTES - WEEK_MINUTES / 2
}

/** Instants after `from` at which the wall clock of `timeZone` reads minute-of-week `edge`. */
function edgeInstants(timeZone: string, edge: number, from: number): number[] {
  const out: number[] = []
  const local = localMinuteOfWeek(new Date(from), timeZone)
  let delta = (edge - local + WEEK_MINUTES) % WEEK_MINUTES
  if (delta === 0) delta = WEEK_MINUTES
  for (const weeks of [0, 1]) {
    let t = Math.round(from + (delta + weeks * WEEK_MINUTES) * MINUTE)
    // A daylight-saving change on the way shifts the wall clock: correct by the difference.
    for (let i = 0; i < 2; i++) {
      t -= Math.round(foldWeek(localMinuteOfWeek(new Date(t), timeZone) - edge) * MINUTE)
    }
    out.push(t)
  }
  return out
}

/** UTC offset of `timeZone` at `t`, in minutes, as wall clock minus UTC. */
function offsetAt(timeZone: string, t: number): number {
  return Math.round(foldWeek(localMinuteOfWeek(new Date(t), timeZone) - localMinuteOfWeek(new Date(t), 'UTC')))
}

/** Instants (to the minute) within the horizon where the zone's UTC offset changes. */
function offsetChanges(timeZone: string, from: number): number[] {
  if (timeZone === 'UTC') return []
  const out: number[] = []
  const step = 6 * 60 * MINUTE
  let prev = offsetAt(timeZone, from)
  for (let t = from + step; t <= from + HORIZON_MS + step; t += step) {
    const off = offsetAt(timeZone, t)
    if (off !== prev) {
      let lo = t - step
      let hi = t
      while (hi - lo > MINUTE) {
        const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE
        if (offsetAt(timeZone, mid) === prev) lo = mid
        else hi = mid
      }
      out.push(hi)
      prev = off
    }
  }
  return out
}

/** What a schedule drives: a bucket, or anything with a rate. */
export interface RateTarget {
  setRate(rate: Rate): void
}

export interface ApplyScheduleComponents {
  /** Wall clock. @default () => new Date() */
  now?: () => Date
  /** For timers. @default systemClock */
  clock?: Clock
}

/** Longest sleep between evaluations, so a wall clock set by hand is noticed. */
const RECHECK_MS = 60 * MINUTE

/**
 * Keeps `target` at the scheduled rate: sets it now, then again at each change (a timer per
 * change, no polling). Returns `stop`. Give new scopes by calling again after stop.
 */
export function applySchedule(target: RateTarget, scopes: readonly Schedule[], components: ApplyScheduleComponents = {}): () => void {
  const now = components.now ?? (() => new Date())
  const clock = components.clock ?? systemClock
  let cancel: (() => void) | undefined
  let stopped = false
  const tick = (): void => {
    if (stopped) return
    const t = now()
    target.setRate(rateAt(scopes, t).rate)
    const next = nextChange(scopes, t)
    const wait = next === undefined ? RECHECK_MS : Math.min(RECHECK_MS, next.getTime() - t.getTime())
    cancel = clock.setTimer(tick, wait)
  }
  tick()
  return () => {
    stopped = true
    cancel?.()
  }
}
