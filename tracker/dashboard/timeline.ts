import { formatRate, nextChange, rateAt, type Rate, type Schedule } from '../../bandwidth/index.ts'
import { Budgets, ruleOf } from '../budgets.ts'
import { addDays, localDate, localDayStart, mondayOf, WEEKDAYS } from './local-days.ts'

/** Who wrote a rule: the scope levels of a subnet's budget, or an inter-site link. */
export type ScopeLevel = 'subnet' | 'site' | 'global' | 'link' | 'none'

/** One scope of the timeline, most specific first. */
export interface TimelineScope {
  by: ScopeLevel
  schedule: Schedule
}

/** The rule in force at an instant and who decided it (Budgets.budgetOf's shape). */
export interface Decision {
  rate: Rate
  rule: string
  decidedBy: ScopeLevel
  nextChangeAt?: Date | undefined
}

export interface Segment {
  start: string
  end: string
  rateBytesPerSec: number | null
  rate: string
  rule: string
  decidedBy: ScopeLevel
}

export interface TimelineDay {
  date: string
  weekday: string
  start: string
  end: string
  /** 23 or 25 on a daylight-saving change. */
  hours: number
  /** Who wins, in order, covering the whole day. */
  segments: Segment[]
}

export interface TimelineWindow {
  by: ScopeLevel
  /** 1-based, within its scope, as error messages count. */
  index: number
  rule: string
  rateBytesPerSec: number | null
  rate: string
  /** Where the window is in force this week, split at local midnights (`day` indexes `days`). */
  occurrences: Array<{ day: number, start: string, end: string }>
  /** Minutes this week it decides the rate: 0 for a window always beaten by a narrower or more specific one. */
  winsMinutes: number
}

export interface WeekTimeline {
  timezone: string
  /** The week's Monday. */
  week: string
  start: string
  end: string
  days: TimelineDay[]
  windows: TimelineWindow[]
}

/** A scope's decision from the scopes alone: what Budgets does for a subnet, for sites and links. */
export function decideByScopes(scopes: readonly TimelineScope[]): (at: Date) => Decision {
  const schedules = scopes.map((s) => s.schedule)
  return (at) => {
    const d = rateAt(schedules, at)
    return { rate: d.rate, rule: ruleOf(d), decidedBy: d.scope === -1 ? 'none' : scopes[d.scope]!.by }
  }
}

/** Instants in [start, end) where `schedule`'s window `i` begins and ends, as pairs. */
function occurrences(schedule: Schedule, i: number, start: number, end: number): Array<[number, number]> {
  // The window alone, marked rate 1 on a default of 0: nextChange then finds exactly its edges.
  const marker: Schedule = { timeZone: schedule.timeZone, defaultRate: 0, windows: [{ ...schedule.windows[i]!, rate: 1 }] }
  const out: Array<[number, number]> = []
  let openedAt = rateAt([marker], new Date(start)).rate === 1 ? start : undefined
  for (let t = start; ;) {
    const next = nextChange([marker], new Date(t))?.getTime()
    if (next === undefined || next >= end) break
    if (openedAt === undefined) openedAt = next
    else {
      out.push([openedAt, next])
      openedAt = undefined
    }
    t = next
  }
  if (openedAt !== undefined) out.push([openedAt, end])
  return out
}

/**
 * The week holding `date` (its Monday 00:00 to the next Monday, on `timeZone`'s wall
 * clock), day by day: who wins each stretch (`decide`, e.g. Budgets.budgetOf for a
 * subnet), and every window of every scope with where it is in force, winning or not.
 * The winner can change only at a window's edge, a local midnight, or where `decide`
 * says the rate changes next, so each stretch between those is decided once.
 */
export function layoutWeek(scopes: readonly TimelineScope[], timeZone: string, date: string, decide = decideByScopes(scopes)): WeekTimeline {
  const monday = mondayOf(date)
  const dayStarts = Array.from({ length: 8 }, (_, i) => localDayStart(addDays(monday, i), timeZone))
  const start = dayStarts[0]!
  const end = dayStarts[7]!
  const dayOf = (t: number): number => dayStarts.findLastIndex((s) => s <= t)

  const windows = scopes.flatMap((s) => s.schedule.windows.map((w, i) => ({ by: s.by, index: i + 1, w, spans: occurrences(s.schedule, i, start, end) })))
  const cuts = new Set<number>(dayStarts)
  for (const { spans } of windows) for (const [a, b] of spans) cuts.add(a).add(b)
  for (let t = start; t < end;) {
    const next = decide(new Date(t)).nextChangeAt?.getTime()
    if (next === undefined || next <= t) break
    cuts.add(next)
    t = next
  }
  const edges = [...cuts].filter((t) => t >= start && t <= end).sort((a, b) => a - b)

  const days: TimelineDay[] = dayStarts.slice(0, 7).map((s, i) => ({
    date: addDays(monday, i), weekday: WEEKDAYS[i]!, start: iso(s), end: iso(dayStarts[i + 1]!), hours: (dayStarts[i + 1]! - s) / 3_600_000, segments: [],
  }))
  const wins = new Map<string, number>()
  for (let k = 0; k + 1 < edges.length; k++) {
    const [a, b] = [edges[k]!, edges[k + 1]!]
    const d = decide(new Date(a))
    const key = `${d.decidedBy}\n${d.rule}`
    wins.set(key, (wins.get(key) ?? 0) + (b - a) / 60_000)
    const segments = days[dayOf(a)]!.segments
    const last = segments.at(-1)
    if (last !== undefined && last.rule === d.rule && last.decidedBy === d.decidedBy && last.rateBytesPerSec === Budgets.json(d.rate)) last.end = iso(b)
    else segments.push({ start: iso(a), end: iso(b), rateBytesPerSec: Budgets.json(d.rate), rate: formatRate(d.rate), rule: d.rule, decidedBy: d.decidedBy })
  }

  return {
    timezone: timeZone,
    week: monday,
    start: iso(start),
    end: iso(end),
    days,
    windows: windows.map(({ by, index, w, spans }) => ({
      by, index, rule: w.text, rateBytesPerSec: Budgets.json(w.rate), rate: formatRate(w.rate),
      occurrences: spans.flatMap(([a, b]) => splitAtDays(a, b, dayStarts)),
      winsMinutes: Math.round(wins.get(`${by}\n${w.text}`) ?? 0),
    })),
  }
}

/** [a, b) cut at each local midnight it spans. */
function splitAtDays(a: number, b: number, dayStarts: number[]): Array<{ day: number, start: string, end: string }> {
  const out: Array<{ day: number, start: string, end: string }> = []
  for (let i = 0; i < 7; i++) {
    const s = Math.max(a, dayStarts[i]!)
    const e = Math.min(b, dayStarts[i + 1]!)
    if (s < e) out.push({ day: i, start: iso(s), end: iso(e) })
  }
  return out
}

const iso = (t: number): string => new Date(t).toISOString()

/** Today's date on `timeZone`'s wall clock. */
export function today(now: Date, timeZone: string): string {
  return localDate(now.getTime(), timeZone)
}
