import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BandwidthErrorCodes, MAX_RATE, nextChange, parseRate, parseSchedule, parseScheduleText, parseWindow, rateAt, UNLIMITED } from '../../bandwidth/index.ts'
import { anyJson, fuzz, fuzzTimeoutMs, mutatedMany, nastyString, resultOrCode } from './fuzz.ts'

const CODES = [BandwidthErrorCodes.BAD_RATE, BandwidthErrorCodes.BAD_SCHEDULE, BandwidthErrorCodes.BAD_TIMEZONE]

const number = fc.oneof(fc.nat({ max: 100_000 }).map(String), fc.double({ min: 0, max: 1e6, noNaN: true }).map((d) => d.toFixed(3)), fc.constantFrom('0', '00', '1e9', '99999999999999999999999', '1.', '.5'))
const unit = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('B', 'KB', 'KiB', 'MB', 'MiB', 'GB', 'GiB', 'bit', 'Kbit', 'Mbit', 'Gbit', 'bps', 'kbps', 'Mbps', 'Gbps', 'TiB', 'mbit', 'MIB') }, nastyString(6))
const rateText = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(number, fc.constantFrom('', ' ', '  '), unit, fc.constantFrom('', '/s', '/S', '/h')).map(([n, sp, u, per]) => `${n}${sp}${u}${per}`) },
  fc.constantFrom('unlimited', 'UNLIMITED', ' unlimited ', '0', 'closed', '-1MiB/s', 'Infinity'),
  nastyString(),
)
const clock = fc.oneof({ weight: 6, arbitrary: fc.tuple(fc.nat({ max: 25 }), fc.nat({ max: 61 })).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`) }, nastyString(8))
const days = fc.oneof({ weight: 6, arbitrary: fc.array(fc.constantFrom('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun', 'mon', 'Funday', 'Mon-Fri', 'Fri-Mon', 'Sat-Sun-Mon', ''), { minLength: 1, maxLength: 4 }).map((d) => d.join(',')) }, nastyString(12))
const windowRule = fc.tuple(fc.option(days), fc.option(fc.tuple(clock, clock)), rateText).map(([d, t, r]) => [d, t === null ? null : `${t[0]}-${t[1]}`, r].filter((x) => x !== null).join(' '))
const windowSpec = fc.record({ days, from: clock, to: clock, rate: fc.oneof(rateText, fc.integer()) }, { requiredKeys: ['rate'] })
const timezone = fc.oneof(fc.constantFrom('UTC', 'Europe/London', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'europe/london', 'Etc/GMT+14', 'Mars/Olympus', '+01:00', ''), nastyString(16))
const schedule = fc.record({ timezone, default: fc.oneof(rateText, fc.integer()), windows: fc.array(fc.oneof(windowRule, windowSpec), { maxLength: 6 }) }, { requiredKeys: [] })

/** Some instant within a few years of now: schedules must answer at any of them. */
const instant = fc.integer({ min: -3 * 365, max: 3 * 365 * 24 * 60 }).map((m) => new Date(Date.now() + m * 60_000))

describe('fuzz: bandwidth rates, windows and schedules', () => {
  it('parseRate: a rate from 0 to 1 Tbit/s or unlimited, or PEERSTAGE_BANDWIDTH_BAD_RATE', async () => {
    await fuzz('bandwidth.parseRate', fc.oneof(rateText, fc.integer(), fc.double()), async (text) => {
      const r = await resultOrCode(CODES, () => parseRate(text as string))
      if (r.ok) expect(r.value === UNLIMITED || (r.value >= 0 && r.value <= MAX_RATE)).toBe(true)
      else expect(r.code).toBe(BandwidthErrorCodes.BAD_RATE)
    }, 3000)
  }, fuzzTimeoutMs())

  it('parseWindow: a window inside the day and week, or a clear code', async () => {
    await fuzz('bandwidth.parseWindow', fc.oneof(windowRule, windowSpec, anyJson), async (input) => {
      const r = await resultOrCode(CODES, () => parseWindow(input as string, 'window 1 of fuzz'))
      if (!r.ok) return
      const w = r.value
      expect(w.days.length).toBeGreaterThan(0)
      expect(w.days.every((d) => Number.isInteger(d) && d >= 0 && d < 7)).toBe(true)
      // `to` 00:00 after a later `from` is midnight, wrapping: `22:00-00:00` is two hours.
      expect(w.fromMinute >= 0 && w.fromMinute < 1440 && w.toMinute >= 0 && w.toMinute <= 1440 && w.fromMinute !== w.toMinute).toBe(true)
      expect(w.rate === UNLIMITED || (w.rate >= 0 && w.rate <= MAX_RATE)).toBe(true)
    }, 3000)
  }, fuzzTimeoutMs())

  it('parseSchedule (JSON and YAML text): a schedule whose rate and next change can be asked at any time, or a clear code', async () => {
    const text = fc.oneof(schedule.map((s) => JSON.stringify(s)), fc.string({ maxLength: 200 }), fc.constantFrom('a: &x [*x]', '!!binary', '{', '- - - -', 'windows: [Mon 25:00 1MiB/s]'))
    await fuzz('bandwidth.parseSchedule', fc.tuple(fc.oneof(schedule, mutatedMany({ timezone: 'Europe/London', default: '1MiB/s', windows: ['Mon-Fri 08:00-18:00 2Mbit/s', { days: 'Sat', from: '22:00', to: '06:00', rate: 0 }] }), anyJson, text), instant), async ([input, at]) => {
      const r = await resultOrCode(CODES, () => typeof input === 'string' ? parseScheduleText(input, 'fuzz') : parseSchedule(input, 'fuzz'))
      if (!r.ok) return
      const now = rateAt([r.value], at)
      expect(now.rate === UNLIMITED || (now.rate >= 0 && now.rate <= MAX_RATE)).toBe(true)
      const next = nextChange([r.value], at)
      if (next !== undefined) {
        expect(next.getTime()).toBeGreaterThan(at.getTime())
        expect(rateAt([r.value], next).rate).not.toBe(now.rate)
      }
    }, 400)
  }, fuzzTimeoutMs())
})
