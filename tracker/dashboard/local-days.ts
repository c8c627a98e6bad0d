/**
 * Calendar days on a zone's wall clock: where a local day starts in real time, so a week
 * drawn in Europe/London has a 23-hour day in March and a 25-hour one in October.
 */

const formats = new Map<string, Intl.DateTimeFormat>()

function format(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    formats.set(timeZone, f)
  }
  return f
}

/** The wall clock of `timeZone` at `t`, read as if it were UTC (ms). */
function wallAsUtc(t: number, timeZone: string): number {
  const p: Record<string, number> = {}
  for (const part of format(timeZone).formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value)
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!)
}

/** `YYYY-MM-DD` of the local date at `t`. */
export function localDate(t: number, timeZone: string): string {
  return new Date(wallAsUtc(t, timeZone)).toISOString().slice(0, 10)
}

/**
 * The first instant of local date `date` (`YYYY-MM-DD`): its midnight, or where a zone
 * skips midnight, the first instant after the jump.
 */
export function localDayStart(date: string, timeZone: string): number {
  const wall = Date.parse(`${date}T00:00:00Z`)
  let t = wall
  // Two corrections reach the offset in force at the instant itself.
  for (let i = 0; i < 2; i++) t = wall - (wallAsUtc(t, timeZone) - t)
  // A skipped midnight lands before the date starts: step forward to it.
  while (localDate(t, timeZone) < date) t += 60_000 * 15
  return t
}

/** The date `days` after `date` (calendar arithmetic, no zone). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)
}

/** The Monday of the week holding `date`. */
export function mondayOf(date: string): string {
  const weekday = (new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7 // 0 = Monday
  return addDays(date, -weekday)
}

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const
