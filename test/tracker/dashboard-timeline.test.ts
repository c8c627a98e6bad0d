import { describe, expect, it } from 'vitest'
import { createTrackerConfig, Budgets } from '../../tracker/index.ts'
import { ByteHistory, siteBytesOf } from '../../tracker/dashboard/history.ts'
import { addDays, localDate } from '../../tracker/dashboard/local-days.ts'
import { scopeTimeline } from '../../tracker/dashboard/scopes.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

const HOUR = 3_600_000
/** A Monday two weeks from now, so nothing here depends on a calendar date going stale. */
const WEEK = addDays(localDate(Date.now(), 'UTC'), 14)

function budgetsOf(site: Record<string, unknown>, wan: Record<string, unknown> = {}): Budgets {
  const config = createTrackerConfig({ adminToken: 'a', dpToken: 'd', wan, sites: [{ name: 'hq', subnets: ['10.0.0.0/24'] }, { name: 'leeds', parent: 'hq', subnets: ['10.1.1.0/24', '10.1.2.0/24'], ...site }] })
  return new Budgets(config, { now: () => new Date(), clock: new FakeClock() })
}

/** The winners of a day as `HH:MM-HH:MM rule` on the scope's clock. */
function winners(day: { segments: Array<{ start: string, end: string, rule: string, decidedBy: string }> }, timeZone: string): string[] {
  const hm = (t: string): string => new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(t))
  return day.segments.map((s) => `${hm(s.start)}-${hm(s.end)} ${s.decidedBy}:${s.rule}`)
}

/** The last Sunday of `month` (0-based) next year, as YYYY-MM-DD. */
function lastSunday(month: number): string {
  const last = new Date(Date.UTC(new Date().getUTCFullYear() + 1, month + 1, 0))
  return addDays(last.toISOString().slice(0, 10), -last.getUTCDay())
}

describe('the week timeline (GET /v1/timeline)', () => {
  it('draws a window over midnight on the day it starts and the next, split at midnight', () => {
    const t = scopeTimeline(budgetsOf({ wan: { default: 'unlimited', windows: ['Fri 22:00-06:00 1MiB/s'] } }), { site: 'leeds', week: WEEK }, new Date())
    expect(t.days.map((d) => d.weekday)).toEqual(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'])
    expect(winners(t.days[4]!, 'UTC')).toEqual(['00:00-22:00 site:default', '22:00-00:00 site:Fri 22:00-06:00 1MiB/s'])
    expect(winners(t.days[5]!, 'UTC')).toEqual(['00:00-06:00 site:Fri 22:00-06:00 1MiB/s', '06:00-00:00 site:default'])
    expect(t.windows).toHaveLength(1)
    expect(t.windows[0]!.occurrences.map((o) => o.day)).toEqual([4, 5])
    expect(t.windows[0]).toMatchObject({ by: 'site', index: 1, rate: '1 MiB/s', rateBytesPerSec: 1024 * 1024, winsMinutes: 8 * 60 })
  })

  it('shows overlapping windows, the narrower winning in whichever order they are written', () => {
    for (const windows of [['Mon-Fri 08:00-18:00 2Mbit/s', 'Mon-Fri 12:00-13:00 0'], ['Mon-Fri 12:00-13:00 0', 'Mon-Fri 08:00-18:00 2Mbit/s']]) {
      const t = scopeTimeline(budgetsOf({ wan: { default: '10MiB/s', windows } }), { site: 'leeds', week: WEEK }, new Date())
      expect(winners(t.days[0]!, 'UTC')).toEqual([
        '00:00-08:00 site:default', '08:00-12:00 site:Mon-Fri 08:00-18:00 2Mbit/s', '12:00-13:00 site:Mon-Fri 12:00-13:00 0',
        '13:00-18:00 site:Mon-Fri 08:00-18:00 2Mbit/s', '18:00-00:00 site:default',
      ])
      expect(t.days[0]!.segments[2]).toMatchObject({ rateBytesPerSec: 0, rate: '0 (closed)' })
      expect(winners(t.days[6]!, 'UTC')).toEqual(['00:00-00:00 site:default'])
      const office = t.windows.find((w) => w.rule.startsWith('Mon-Fri 08'))!
      expect(office.occurrences).toHaveLength(5) // in force all day long, though beaten at lunch
      expect(office.winsMinutes).toBe(5 * 9 * 60)
      expect(t.windows.find((w) => w.rule.includes('12:00'))!.winsMinutes).toBe(5 * 60)
    }
  })

  it('puts a subnet override over its site and its site over the global rules, as the budgets decide', () => {
    const budgets = budgetsOf({ wan: { windows: ['Mon-Fri 08:00-18:00 2Mbit/s'] } }, { default: '50MiB/s', windows: ['Mon 17:00-20:00 1MiB/s'] })
    budgets.applyOverride('subnet:10.1.1.0/24', { windows: ['Mon 09:00-10:00 5MiB/s'] })
    const t = scopeTimeline(budgets, { subnet: '10.1.1.0/24', week: WEEK }, new Date())
    expect(t.scope).toEqual({ kind: 'subnet', name: '10.1.1.0/24' })
    expect(winners(t.days[0]!, 'UTC')).toEqual([
      '00:00-08:00 global:default', '08:00-09:00 site:Mon-Fri 08:00-18:00 2Mbit/s', '09:00-10:00 subnet:Mon 09:00-10:00 5MiB/s',
      '10:00-18:00 site:Mon-Fri 08:00-18:00 2Mbit/s', '18:00-20:00 global:Mon 17:00-20:00 1MiB/s', '20:00-00:00 global:default',
    ])
    expect(t.windows.map((w) => `${w.by} ${w.winsMinutes}`)).toEqual(['subnet 60', 'site 2940', 'global 120'])
    // Every hour of the week agrees with what the tracker enforces.
    for (const day of t.days) {
      for (const s of day.segments) {
        for (let at = Date.parse(s.start); at < Date.parse(s.end); at += HOUR) expect(budgets.budgetOf('10.1.1.0/24', new Date(at)).rule).toBe(s.rule)
      }
    }
    // The other subnet of the site has no override: the site's window rules there.
    expect(winners(scopeTimeline(budgets, { subnet: '10.1.2.0/24', week: WEEK }, new Date()).days[0]!, 'UTC')[1]).toBe('08:00-18:00 site:Mon-Fri 08:00-18:00 2Mbit/s')
  })

  it('gives a daylight-saving week its 23- and 25-hour Sundays on the scope\'s clock (Europe/London)', () => {
    const budgets = budgetsOf({ timezone: 'Europe/London', wan: { default: 'unlimited', windows: ['00:00-03:00 1MiB/s'] }, link: { windows: ['Sun 00:30-02:30 0'] } })
    for (const [sunday, hours] of [[lastSunday(2), 23], [lastSunday(9), 25]] as const) {
      const t = scopeTimeline(budgets, { site: 'leeds', week: sunday }, new Date())
      expect(t.timezone).toBe('Europe/London')
      expect(t.days[6]!.date).toBe(sunday)
      expect(t.days.map((d) => d.hours)).toEqual([24, 24, 24, 24, 24, 24, hours])
      expect(Date.parse(t.end) - Date.parse(t.start)).toBe((6 * 24 + hours) * HOUR)
      const night = t.days[6]!.segments[0]!
      expect(night.rule).toBe('00:00-03:00 1MiB/s')
      // 00:00 to 03:00 on the wall clock: 2 h of real time in spring, 4 h in autumn.
      expect(Date.parse(night.end) - Date.parse(night.start)).toBe((hours - 21) * HOUR)
      expect(night.start).toBe(t.days[6]!.start)
      expect(t.days[6]!.segments.at(-1)!.end).toBe(t.end)
      const link = scopeTimeline(budgets, { link: 'leeds', week: sunday }, new Date())
      expect(link.scope).toEqual({ kind: 'link', name: 'leeds', parent: 'hq' })
      const closed = link.days[6]!.segments[1]!
      expect(winners(link.days[6]!, 'Europe/London')[1]).toBe('00:30-02:30 link:Sun 00:30-02:30 0')
      // The clocks change at 01:00 (spring, to 02:00) and 02:00 (autumn, back to 01:00).
      expect(Date.parse(closed.end) - Date.parse(closed.start)).toBe((hours - 22) * HOUR)
    }
  })

  it('refuses a scope it does not know and a week that is not a date', () => {
    const budgets = budgetsOf({})
    expect(() => scopeTimeline(budgets, { subnet: '10.9.9.0/24' }, new Date())).toThrow(/no subnet '10.9.9.0\/24'/)
    expect(() => scopeTimeline(budgets, { link: 'hq' }, new Date())).toThrow(/only sites with a parent have one \(leeds\)/)
    expect(() => scopeTimeline(budgets, { site: 'leeds', week: 'next' }, new Date())).toThrow(/not a date/)
    expect(() => scopeTimeline(budgets, { site: 'leeds', subnet: '10.1.1.0/24' }, new Date())).toThrow(/exactly one/)
    expect(scopeTimeline(budgets, { site: 'leeds' }, new Date()).days.some((d) => d.date === localDate(Date.now(), 'UTC'))).toBe(true)
  })
})

describe('the byte history (GET /v1/history)', () => {
  it('samples every interval and keeps only the newest maxSamples', async () => {
    const clock = new FakeClock()
    let wan = 0
    const h = new ByteHistory(() => ({ leeds: { lan: 2 * wan, wan: wan++, reused: 0, dpUpload: 0 } }), { clock, now: () => new Date(clock.nowMs()) }, { intervalMs: 1000, maxSamples: 3 })
    h.start()
    h.start()
    await clock.advance(4500)
    expect(h.list().map((s) => s.sites.leeds!.wan)).toEqual([2, 3, 4])
    expect(h.list().map((s) => Date.parse(s.at))).toEqual([2000, 3000, 4000])
    h.stop()
    await clock.advance(5000)
    expect(h.list()).toHaveLength(3)
    expect(clock.pendingTimers).toBe(0)
    expect(() => new ByteHistory(() => ({}), { clock, now: () => new Date() }, { maxSamples: 0 })).toThrow(RangeError)
  })

  it('sums the subnets\' totals per site, every configured site shown, others as (unassigned)', () => {
    const b = (lan: number, wan: number) => ({ lan, wan, reused: 1, dpUpload: 0 })
    const bySubnet: Array<[string, Map<string, ReturnType<typeof b>>]> = [
      ['10.1.1.0/24', new Map([['p1', b(10, 5)], ['p2', b(1, 1)]])], ['10.1.2.0/24', new Map([['p1', b(100, 0)]])], ['192.168.7.0/24', new Map([['p1', b(0, 7)]])],
    ]
    expect(siteBytesOf(bySubnet, ['hq', 'leeds'], (s) => (s.startsWith('10.1.') ? 'leeds' : undefined))).toEqual({
      hq: { lan: 0, wan: 0, reused: 0, dpUpload: 0 }, leeds: { lan: 111, wan: 6, reused: 3, dpUpload: 0 }, '(unassigned)': { lan: 0, wan: 7, reused: 1, dpUpload: 0 },
    })
  })
})
