import { BandwidthErrorCodes, bandwidthError } from './errors.ts'

/** Bytes per second; `Infinity` is unlimited, 0 is closed. */
export type Rate = number

export const UNLIMITED: Rate = Number.POSITIVE_INFINITY

/**
 * The highest finite rate: 1 Tbit/s. Anything above is a typo (no link carries it), and
 * digits enough overflow to Infinity, which would read as unlimited.
 */
export const MAX_RATE: Rate = 1e12 / 8

/**
 * Bytes per second of one unit, by lower-case unit name (`/s` stripped). A Map, not an
 * object literal: `1constructor/s` must be an unknown unit, not Object.prototype's (a NaN rate).
 */
const UNITS: ReadonlyMap<string, number> = new Map(Object.entries({
  'b': 1, 'kb': 1e3, 'kib': 1024, 'mb': 1e6, 'mib': 1024 ** 2, 'gb': 1e9, 'gib': 1024 ** 3,
  'bit': 1 / 8, 'kbit': 1e3 / 8, 'mbit': 1e6 / 8, 'gbit': 1e9 / 8,
  'bps': 1 / 8, 'kbps': 1e3 / 8, 'mbps': 1e6 / 8, 'gbps': 1e9 / 8,
}))

/**
 * `2Mbit/s`, `512 KiB/s`, `50MiB/s`, `unlimited`, `0` → bytes per second. Units are
 * case-insensitive; bytes (B, KB = 1000, KiB = 1024, …) or bits (bit, Kbit, Mbit, Gbit, and
 * the bps forms). A bare number other than 0 is refused: a unit is the difference between
 * a megabit and a megabyte. Above MAX_RATE (1 Tbit/s) is refused: write `unlimited`.
 */
export function parseRate(text: string | number, where = 'rate'): Rate {
  if (text === 0 || text === '0') return 0
  if (typeof text === 'string') {
    const t = text.trim().toLowerCase()
    if (t === 'unlimited') return UNLIMITED
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]+?)(?:\/s)?$/.exec(t)
    if (m !== null) {
      const unit = UNITS.get(m[2]!)
      if (unit !== undefined) {
        const rate = Number(m[1]) * unit
        if (rate > MAX_RATE) throw bandwidthError(BandwidthErrorCodes.BAD_RATE, `${where} '${text}' is above the ceiling of 1 Tbit/s (125 GB/s): write a lower rate, or unlimited for no limit`)
        return rate
      }
      throw bandwidthError(BandwidthErrorCodes.BAD_RATE, `unknown unit '${m[2]}' in ${where} '${text}' (use B/s, KB/s, KiB/s, MB/s, MiB/s, GB/s, bit/s, Kbit/s, Mbit/s or Gbit/s)`)
    }
  }
  throw bandwidthError(BandwidthErrorCodes.BAD_RATE, `${where} '${text}' is not a rate: write e.g. 2Mbit/s, 50MiB/s, unlimited or 0`)
}

/** 262144 → "256 KiB/s"; Infinity → "unlimited"; 0 → "0 (closed)". */
export function formatRate(rate: Rate): string {
  if (rate === UNLIMITED) return 'unlimited'
  if (rate === 0) return '0 (closed)'
  const units: Array<[string, number]> = [['GiB/s', 1024 ** 3], ['MiB/s', 1024 ** 2], ['KiB/s', 1024]]
  for (const [name, size] of units) if (rate >= size) return `${Number((rate / size).toFixed(2))} ${name}`
  return `${Number(rate.toFixed(2))} B/s`
}
