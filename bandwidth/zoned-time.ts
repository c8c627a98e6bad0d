import { BandwidthErrorCodes, bandwidthError } from './errors.ts'

/** Minutes in a week; a local time is a minute of the week, Monday 00:00 = 0. */
export const WEEK_MINUTES = 7 * 24 * 60

const formatters = new Map<string, Intl.DateTimeFormat>()
const WEEKDAY: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 }

/** Throws PEERSTAGE_BANDWIDTH_BAD_TIMEZONE for a name the IANA database does not know. */
export function checkTimeZone(timeZone: string, where: string): string {
  try {
    formatterFor(timeZone)
    return timeZone
  } catch (err) {
    throw bandwidthError(BandwidthErrorCodes.BAD_TIMEZONE, `unknown time zone '${timeZone}' in ${where} (use an IANA name such as Europe/London or UTC)`, { cause: err })
  }
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    formatters.set(timeZone, f)
  }
  return f
}

/** The wall-clock minute of the week (fractional: seconds included) at `time` in `timeZone`. */
export function localMinuteOfWeek(time: Date, timeZone: string): number {
  let day = 0
  let hour = 0
  let minute = 0
  let second = 0
  for (const p of formatterFor(timeZone).formatToParts(time)) {
    if (p.type === 'weekday') day = WEEKDAY[p.value] ?? 0
    else if (p.type === 'hour') hour = Number(p.value)
    else if (p.type === 'minute') minute = Number(p.value)
    else if (p.type === 'second') second = Number(p.value)
  }
  const ms = time.getTime() % 1000
  return day * 1440 + hour * 60 + minute + (second + (ms < 0 ? ms + 1000 : ms) / 1000) / 60
}
