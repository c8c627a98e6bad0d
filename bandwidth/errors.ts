import { PeerstageError } from '../common/index.ts'

export const BandwidthErrorCodes = {
  /** A rate that is not a number with a known unit, `unlimited` or `0`, or is above 1 Tbit/s. */
  BAD_RATE: 'PEERSTAGE_BANDWIDTH_BAD_RATE',
  /** A window rule or schedule that does not parse or is not valid. */
  BAD_SCHEDULE: 'PEERSTAGE_BANDWIDTH_BAD_SCHEDULE',
  /** A time zone name the IANA database does not know. */
  BAD_TIMEZONE: 'PEERSTAGE_BANDWIDTH_BAD_TIMEZONE',
  /** A take() given up by its caller's AbortSignal. */
  ABORTED: 'PEERSTAGE_BANDWIDTH_ABORTED',
} as const

export type BandwidthErrorCode = typeof BandwidthErrorCodes[keyof typeof BandwidthErrorCodes]

export function bandwidthError(code: BandwidthErrorCode, message: string, options: { cause?: unknown } = {}): PeerstageError {
  return new PeerstageError(code, message, options)
}
