import { BandwidthErrorCodes, bandwidthError } from './errors.ts'
import { parseRate, type Rate } from './rate.ts'
import { WEEK_MINUTES } from './zoned-time.ts'

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']

/**
 * One rule: on these days, from `from` to `to` (local wall clock), this rate. `to` before
 * `from` wraps past midnight into the next day, which still belongs to the start day:
 * `Fri 22:00-06:00` runs Friday night into Saturday morning.
 */
export interface BandwidthWindow {
  /** Start days, 0 = Monday … 6 = Sunday. */
  days: readonly number[]
  /** Minutes after midnight, 0..1439. */
  fromMinute: number
  /** Minutes after midnight, 0..1440; `to < from` wraps (`22:00-00:00` is two hours). */
  toMinute: number
  rate: Rate
  /** The rule as written, for messages and status pages. */
  text: string
}

/** The structured form, as the API takes it; every field but rate is optional. */
export interface WindowSpec {
  days?: string
  from?: string
  to?: string
  rate: string | number
}

function bad(where: string, message: string): never {
  throw bandwidthError(BandwidthErrorCodes.BAD_SCHEDULE, `${message} in ${where}`)
}

/** `Mon-Fri`, `Sat,Sun`, `Fri-Mon`, `Mon-Wed,Fri` → day numbers (ranges may wrap). */
export function parseDays(text: string, where: string): number[] {
  const days = new Set<number>()
  for (const part of text.split(',')) {
    const [a, b, extra] = part.trim().split('-')
    if (extra !== undefined) bad(where, `day range '${part.trim()}' has more than one '-'`)
    const dayOf = (name: string): number => {
      const i = DAYS.findIndex((d) => d.toLowerCase() === name.trim().toLowerCase())
      if (i === -1) bad(where, `unknown day '${name.trim()}'`)
      return i
    }
    const start = dayOf(a ?? '')
    const end = b === undefined ? start : dayOf(b)
    for (let d = start; ; d = (d + 1) % 7) {
      days.add(d)
      if (d === end) break
    }
  }
  return [...days].sort()
}

function parseClock(text: string, where: string, allow24: boolean): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim())
  const h = Number(m?.[1])
  const min = Number(m?.[2])
  if (m === null || min > 59 || h > 24 || (h === 24 && (min !== 0 || !allow24))) bad(where, `time '${text}' is not HH:MM (00:00 to ${allow24 ? '24:00' : '23:59'})`)
  return h * 60 + min
}

const SPEC_KEYS = ['days', 'from', 'to', 'rate']

/** The structured form as YAML or JSON gives it: known keys, strings, a rate. */
function checkSpec(input: unknown, where: string): WindowSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad(where, 'a window must be a rule like \'Mon-Fri 08:00-18:00 2Mbit/s\' or a mapping of days, from, to and rate')
  const spec = input as Record<string, unknown>
  for (const k of Object.keys(spec)) if (!SPEC_KEYS.includes(k)) bad(where, `unknown key '${k}' (expected ${SPEC_KEYS.join(', ')})`)
  for (const k of ['days', 'from', 'to']) if (spec[k] !== undefined && typeof spec[k] !== 'string') bad(where, `${k} must be a string like ${k === 'days' ? "'Mon-Fri'" : "'08:00'"}`)
  if (spec.rate === undefined) bad(where, 'a window needs a rate')
  if (typeof spec.rate !== 'string' && typeof spec.rate !== 'number') bad(where, 'rate must be a rate like 2Mbit/s, unlimited or 0')
  return spec as unknown as WindowSpec
}

/**
 * Parses `[DAYS] [HH:MM-HH:MM] RATE`, e.g. `Mon-Fri 08:00-18:00 2Mbit/s`,
 * `Sat-Sun unlimited`, `22:00-06:00 50MiB/s`, `Mon-Fri 12:00-13:00 0`. Without days: every
 * day; without times: all day. Or the structured form `{days, from, to, rate}`: the config
 * and the throttle API both come through here.
 */
export function parseWindow(input: string | WindowSpec, where: string): BandwidthWindow {
  let spec: WindowSpec
  let text: string
  if (typeof input === 'string') {
    text = input.trim()
    const words = text.split(/\s+/)
    if (words.length === 0 || words[0] === '') bad(where, 'empty window')
    let rateText = words.pop()!
    // "2 Mbit/s": a unit written apart from its number.
    if (words.length > 0 && /^[a-z]+(\/s)?$/i.test(rateText) && /^\d+(\.\d+)?$/.test(words.at(-1)!)) rateText = `${words.pop()}${rateText}`
    spec = { rate: rateText }
    for (const w of words) {
      if (/^\d/.test(w)) {
        if (spec.from !== undefined) bad(where, `two time ranges ('${spec.from}-${spec.to}' and '${w}')`)
        const [from, to, extra] = w.split('-')
        if (to === undefined || extra !== undefined) bad(where, `time range '${w}' is not HH:MM-HH:MM`)
        spec.from = from
        spec.to = to
      } else {
        if (spec.days !== undefined) bad(where, `two day lists ('${spec.days}' and '${w}')`)
        spec.days = w
      }
    }
  } else {
    spec = checkSpec(input, where)
    text = [spec.days, spec.from !== undefined ? `${spec.from}-${spec.to}` : undefined, String(spec.rate)].filter(Boolean).join(' ')
  }
  const days = spec.days === undefined ? [0, 1, 2, 3, 4, 5, 6] : parseDays(spec.days, where)
  if ((spec.from === undefined) !== (spec.to === undefined)) bad(where, 'a window needs both from and to, or neither')
  const fromMinute = spec.from === undefined ? 0 : parseClock(spec.from, where, false)
  const toMinute = spec.to === undefined ? 1440 : parseClock(spec.to, where, true)
  if (fromMinute === toMinute) bad(where, `window ${spec.from}-${spec.to} is empty (leave out the times for all day)`)
  return { days, fromMinute, toMinute, rate: parseRate(spec.rate, `the rate of ${where}`), text }
}

/** Minutes from start to end of one day's window (a wrapping one runs into the next day). */
function windowLength(w: BandwidthWindow): number {
  return w.toMinute > w.fromMinute ? w.toMinute - w.fromMinute : 1440 - w.fromMinute + w.toMinute
}

/** Minutes the window covers in a week: the narrower window wins where two overlap. */
export function windowWeeklyMinutes(w: BandwidthWindow): number {
  return windowLength(w) * w.days.length
}

/** Does the window cover this local minute of the week? */
export function windowCovers(w: BandwidthWindow, minuteOfWeek: number): boolean {
  const length = windowLength(w)
  return w.days.some((d) => (minuteOfWeek - (d * 1440 + w.fromMinute) + WEEK_MINUTES) % WEEK_MINUTES < length)
}

/** Local minutes of the week where the window starts or ends. */
export function windowEdges(w: BandwidthWindow): number[] {
  return w.days.flatMap((d) => [d * 1440 + w.fromMinute, (d * 1440 + w.fromMinute + windowLength(w)) % WEEK_MINUTES])
}
