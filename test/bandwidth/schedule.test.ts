import { describe, expect, it } from 'vitest'
import { applySchedule, MAX_RATE, nextChange, parseRate, parseSchedule, parseScheduleText, rateAt, UNLIMITED, type Schedule } from '../../bandwidth/index.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

const MBIT = 1e6 / 8
const at = (iso: string): Date => new Date(iso)
const rate = (s: Schedule | Schedule[], iso: string): number => rateAt(Array.isArray(s) ? s : [s], at(iso)).rate

function errorOf(fn: () => unknown): { code?: string, message: string } {
  try {
    fn()
  } catch (err) {
    return err as { code?: string, message: string }
  }
  throw new Error('expected an error')
}

describe('rates', () => {
  it('parses every unit, case-insensitively', () => {
    const cases: Array<[string, number]> = [
      ['100B/s', 100], ['2KB/s', 2000], ['2KiB/s', 2048], ['3MB/s', 3e6], ['3MiB/s', 3 * 2 ** 20], ['1GB/s', 1e9], ['1GiB/s', 2 ** 30],
      ['800bit/s', 100], ['8Kbit/s', 1000], ['2Mbit/s', 250_000], ['1Gbit/s', 125_000_000], ['2 mbit/s', 250_000], ['512kib/s', 524_288],
      ['20MBIT/S', 2_500_000], ['1.5MiB/s', 1.5 * 2 ** 20], ['unlimited', UNLIMITED], ['Unlimited', UNLIMITED], ['0', 0],
    ]
    for (const [text, bytes] of cases) expect(parseRate(text), text).toBe(bytes)
    expect(parseRate(0)).toBe(0)
  })

  it('refuses a rate without a unit or with an unknown one, saying what to write', () => {
    expect(errorOf(() => parseRate('100'))).toMatchObject({ code: 'PEERSTAGE_BANDWIDTH_BAD_RATE', message: "rate '100' is not a rate: write e.g. 2Mbit/s, 50MiB/s, unlimited or 0" })
    expect(errorOf(() => parseRate('5Mbyte/s')).message).toMatch(/unknown unit 'mbyte'/)
    expect(errorOf(() => parseRate('-1MB/s')).message).toMatch(/is not a rate/)
    expect(errorOf(() => parseRate('fast')).message).toMatch(/is not a rate/)
    // Found by the fuzzer: a unit named like an Object.prototype member gave a NaN rate.
    expect(errorOf(() => parseRate('0constructor'))).toMatchObject({ code: 'PEERSTAGE_BANDWIDTH_BAD_RATE', message: expect.stringMatching(/unknown unit 'constructor'/) })
    expect(errorOf(() => parseRate('1constructor/s')).code).toBe('PEERSTAGE_BANDWIDTH_BAD_RATE')
  })

  it('refuses a rate above 1 Tbit/s such as 99999999999999999999999GiB/s, naming it and the ceiling; unlimited stays', () => {
    expect(errorOf(() => parseRate('99999999999999999999999GiB/s', 'the default rate of site leeds'))).toMatchObject({
      code: 'PEERSTAGE_BANDWIDTH_BAD_RATE',
      message: "the default rate of site leeds '99999999999999999999999GiB/s' is above the ceiling of 1 Tbit/s (125 GB/s): write a lower rate, or unlimited for no limit",
    })
    // So many digits that the number is Infinity, which must not pass as unlimited.
    expect(errorOf(() => parseRate(`${'9'.repeat(400)}B/s`)).code).toBe('PEERSTAGE_BANDWIDTH_BAD_RATE')
    expect(errorOf(() => parseRate('1001Gbit/s')).message).toMatch(/above the ceiling of 1 Tbit\/s/)
    expect(parseRate('1000Gbit/s')).toBe(MAX_RATE)
    expect(parseRate('125GB/s')).toBe(1.25e11)
    expect(parseRate('unlimited')).toBe(UNLIMITED)
    expect(errorOf(() => parseSchedule({ windows: ['Mon-Fri 200000GiB/s'] }, 'site leeds')).message).toMatch(/rate of window 1 of site leeds '200000GiB\/s' is above the ceiling/)
  })
})

describe('window schedules', () => {
  const office = parseSchedule({
    timezone: 'Europe/London',
    default: 'unlimited',
    windows: ['Mon-Fri 08:00-18:00 2Mbit/s', 'Sat-Sun 50MiB/s', 'Mon-Fri 12:00-13:00 0', '22:00-06:00 10MiB/s'],
  }, 'site leeds')

  it('applies days + times, days only, and times only (every day)', () => {
    expect(rate(office, '2026-11-23T09:00:00Z')).toBe(2 * MBIT) // Monday 09:00 GMT
    expect(rate(office, '2026-11-23T07:59:59Z')).toBe(UNLIMITED) // before the window: default
    expect(rate(office, '2026-11-23T18:00:00Z')).toBe(UNLIMITED) // the end is exclusive
    expect(rate(office, '2026-11-28T15:00:00Z')).toBe(50 * 2 ** 20) // Saturday
    expect(rate(office, '2026-11-24T23:30:00Z')).toBe(10 * 2 ** 20) // Tuesday night
  })

  it('wraps a window past midnight into the next day', () => {
    expect(rate(office, '2026-11-24T05:59:00Z')).toBe(10 * 2 ** 20) // Tuesday 05:59, from Monday 22:00
    expect(rate(office, '2026-11-24T06:00:00Z')).toBe(UNLIMITED)
    const friNight = parseSchedule({ windows: ['Fri 22:00-06:00 1MB/s'] }, 'site x')
    expect(rate(friNight, '2026-11-28T03:00:00Z')).toBe(1e6) // Saturday 03:00 belongs to Friday
    expect(rate(friNight, '2026-11-27T03:00:00Z')).toBe(UNLIMITED) // Friday 03:00 belongs to Thursday
  })

  it('lets the narrower window win inside a broader one, in any order', () => {
    expect(rate(office, '2026-11-23T12:30:00Z')).toBe(0) // lunch closed
    const reversed = parseSchedule({ windows: ['Mon-Fri 12:00-13:00 0', 'Mon-Fri 08:00-18:00 2Mbit/s'] }, 'site y')
    expect(rate(reversed, '2026-11-23T12:30:00Z')).toBe(0)
    const sameWidth = parseSchedule({ windows: ['Mon 08:00-09:00 1MB/s', 'Mon 08:00-09:00 2MB/s'] }, 'site z')
    expect(rate(sameWidth, '2026-11-23T08:30:00Z')).toBe(2e6) // equally narrow: the later one
  })

  it('lets the most specific scope win: subnet over site over global', () => {
    const global = parseSchedule({ default: '100MB/s', windows: ['Mon-Fri 08:00-18:00 10MB/s'] }, 'global')
    const site = parseSchedule({ windows: ['Mon-Fri 08:00-18:00 2MB/s'] }, 'site leeds')
    const subnet = parseSchedule({ windows: ['Mon-Fri 09:00-10:00 1MB/s'] }, 'subnet 127.0.1.0/24')
    const scopes = [subnet, site, global]
    expect(rate(scopes, '2026-11-23T09:30:00Z')).toBe(1e6)
    expect(rate(scopes, '2026-11-23T11:00:00Z')).toBe(2e6)
    expect(rate(scopes, '2026-11-23T20:00:00Z')).toBe(100e6) // no window anywhere: the global default
    expect(rate([parseSchedule({ default: '5MB/s' }, 'subnet'), global], '2026-11-23T20:00:00Z')).toBe(5e6)
    expect(rateAt([parseSchedule({}, 'empty')], at('2026-11-23T20:00:00Z'))).toEqual({ rate: UNLIMITED, scope: -1, window: undefined })
  })

  it('reads windows in the scope time zone', () => {
    const tokyo = parseSchedule({ timezone: 'Asia/Tokyo', windows: ['Mon-Fri 08:00-18:00 1MB/s'] }, 'site tokyo')
    expect(rate(tokyo, '2026-11-23T00:30:00Z')).toBe(1e6) // 09:30 Monday in Tokyo
    expect(rate(tokyo, '2026-11-23T10:30:00Z')).toBe(UNLIMITED) // 19:30 in Tokyo
  })

  it('follows the wall clock across daylight-saving changes without crashing or doubling', () => {
    // Europe/London: 2026-03-29 01:00 GMT → 02:00 BST; 2026-10-25 02:00 BST → 01:00 GMT.
    const night = parseSchedule({ timezone: 'Europe/London', windows: ['01:00-03:00 1MB/s'] }, 'site dst')
    // Spring: local 01:00-02:00 does not exist; the window runs from the jump to 03:00 BST.
    expect(rate(night, '2026-03-29T00:59:00Z')).toBe(UNLIMITED)
    expect(rate(night, '2026-03-29T01:00:00Z')).toBe(1e6) // 02:00 BST
    expect(rate(night, '2026-03-29T02:00:00Z')).toBe(UNLIMITED) // 03:00 BST
    expect(nextChange([night], at('2026-03-29T00:30:00Z'))).toEqual(at('2026-03-29T01:00:00Z'))
    expect(nextChange([night], at('2026-03-29T01:00:00Z'))).toEqual(at('2026-03-29T02:00:00Z'))
    // Autumn: 01:00-02:00 happens twice; the window holds through both, 3 real hours.
    expect(nextChange([night], at('2026-10-24T23:00:00Z'))).toEqual(at('2026-10-25T00:00:00Z')) // 01:00 BST
    expect(rate(night, '2026-10-25T01:30:00Z')).toBe(1e6) // the second 01:30 (GMT)
    expect(nextChange([night], at('2026-10-25T00:00:00Z'))).toEqual(at('2026-10-25T03:00:00Z'))
    // A window starting inside the skipped hour starts at the jump.
    const skipped = parseSchedule({ timezone: 'Europe/London', windows: ['01:30-04:00 1MB/s'] }, 'site dst2')
    expect(nextChange([skipped], at('2026-03-29T00:00:00Z'))).toEqual(at('2026-03-29T01:00:00Z'))
  })

  it('finds the next change without polling, across days and scopes', () => {
    expect(nextChange([office], at('2026-11-23T09:00:00Z'))).toEqual(at('2026-11-23T12:00:00Z'))
    expect(nextChange([office], at('2026-11-23T12:00:00Z'))).toEqual(at('2026-11-23T13:00:00Z'))
    expect(nextChange([office], at('2026-11-27T23:00:00Z'))).toEqual(at('2026-11-28T00:00:00Z')) // Fri night → Saturday 50MiB/s
    // Boundaries where the rate stays the same are skipped.
    const same = parseSchedule({ default: '1MB/s', windows: ['Mon 08:00-09:00 1MB/s', 'Tue 08:00-09:00 2MB/s'] }, 'site s')
    expect(nextChange([same], at('2026-11-23T00:00:00Z'))).toEqual(at('2026-11-24T08:00:00Z'))
    expect(nextChange([parseSchedule({ default: '1MB/s' }, 'flat')], at('2026-11-23T00:00:00Z'))).toBeUndefined()
  })

  it('reads the same schedule from YAML and from JSON', () => {
    const yaml = parseScheduleText(`
timezone: Europe/London
default: unlimited
windows:
  - Mon-Fri 08:00-18:00 2Mbit/s
  - { days: Mon-Fri, from: "12:00", to: "13:00", rate: 0 }
`, 'site leeds')
    const json = parseScheduleText(JSON.stringify({ timezone: 'Europe/London', default: 'unlimited', windows: ['Mon-Fri 08:00-18:00 2Mbit/s', { days: 'Mon-Fri', from: '12:00', to: '13:00', rate: 0 }] }), 'site leeds')
    expect(yaml).toEqual(json)
    expect(rate(yaml, '2026-11-23T12:30:00Z')).toBe(0)
  })

  it('explains every invalid input, naming the window and the scope', () => {
    const cases: Array<[unknown, RegExp | string]> = [
      [{ windows: ['Mon-Fri 08:00-18:00 2Mbit/s', 'Sat-Sun unlimited', 'Mon-Fry 12:00-13:00 0'] }, "unknown day 'Fry' in window 3 of site leeds"],
      [{ windows: ['Mon-Fri 25:00-18:00 1MB/s'] }, "time '25:00' is not HH:MM (00:00 to 23:59) in window 1 of site leeds"],
      [{ windows: ['Mon-Fri 08:00-08:00 1MB/s'] }, /window 08:00-08:00 is empty .* in window 1 of site leeds/],
      [{ windows: ['Mon-Fri 08:00 1MB/s'] }, /time range '08:00' is not HH:MM-HH:MM in window 1/],
      [{ windows: ['Mon-Fri 08:00-18:00'] }, /the rate of window 1 of site leeds '08:00-18:00' is not a rate/],
      [{ windows: ['Mon-Fri 08:00-18:00 2Mbps/h'] }, /is not a rate/],
      [{ windows: ['Mon Tue 1MB/s'] }, /two day lists/],
      [{ windows: [{ days: 'Mon', from: '08:00', rate: '1MB/s' }] }, /needs both from and to/],
      [{ windows: [{ day: 'Mon', rate: '1MB/s' }] }, "unknown key 'day' (expected days, from, to, rate) in window 1 of site leeds"],
      [{ windows: [{ days: 'Mon', from: 800, to: '18:00', rate: '1MB/s' }] }, "from must be a string like '08:00' in window 1 of site leeds"],
      [{ default: 'fast' }, /the default rate of site leeds 'fast' is not a rate/],
      [{ timezone: 'Europe/Lodnon' }, "unknown time zone 'Europe/Lodnon' in site leeds (use an IANA name such as Europe/London or UTC)"],
      [{ window: [] }, "unknown key 'window' in the schedule of site leeds (expected timezone, default, windows)"],
      [{ windows: 'Mon 1MB/s' }, 'windows of site leeds must be a list'],
      [['Mon 1MB/s'], /must be a mapping/],
    ]
    for (const [input, expected] of cases) {
      const err = errorOf(() => parseSchedule(input, 'site leeds'))
      expect(err.code).toMatch(/^PEERSTAGE_BANDWIDTH_/)
      if (typeof expected === 'string') expect(err.message).toBe(expected)
      else expect(err.message).toMatch(expected)
    }
    expect(errorOf(() => parseScheduleText('windows: [unclosed', 'site leeds')).message).toMatch(/not valid YAML or JSON/)
  })
})

describe('applySchedule', () => {
  it('sets the rate now and again at each boundary, by timer', async () => {
    const clock = new FakeClock()
    const start = at('2026-11-23T11:59:00Z').getTime()
    const now = (): Date => new Date(start + clock.nowMs())
    const rates: number[] = []
    const office = parseSchedule({ timezone: 'Europe/London', default: 'unlimited', windows: ['Mon-Fri 08:00-18:00 2Mbit/s', 'Mon-Fri 12:00-13:00 0'] }, 'site leeds')
    const stop = applySchedule({ setRate: (r) => rates.push(r) }, [office], { clock, now })
    expect(rates).toEqual([2 * MBIT])
    await clock.advance(59_999)
    expect(rates).toEqual([2 * MBIT])
    await clock.advance(1)
    expect(rates).toEqual([2 * MBIT, 0])
    await clock.advance(60 * 60_000)
    expect(rates).toEqual([2 * MBIT, 0, 2 * MBIT])
    stop()
    expect(clock.pendingTimers).toBe(0)
  })
})
