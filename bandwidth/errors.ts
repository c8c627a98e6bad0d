import { defineErrorCodes, PeerstageError } from '../common/index.ts'

/** Stable codes of the bandwidth module and their classes (common/errors.ts). */
export const BandwidthErrorCodes = defineErrorCodes('bandwidth', {
  /** A rate that is not a number with a known unit, `unlimited` or `0`, or is above 1 Tbit/s. */
  BAD_RATE: { code: 'PEERSTAGE_BANDWIDTH_BAD_RATE', class: 'usage' },
  /** A window rule or schedule that does not parse or is not valid. */
  BAD_SCHEDULE: { code: 'PEERSTAGE_BANDWIDTH_BAD_SCHEDULE', class: 'usage' },
  /** A time zone name the IANA database does not know. */
  BAD_TIMEZONE: { code: 'PEERSTAGE_BANDWIDTH_BAD_TIMEZONE', class: 'usage' },
  /** A take() given up by its caller's AbortSignal. */
  ABORTED: { code: 'PEERSTAGE_BANDWIDTH_ABORTED', class: 'failed' },
})

export type BandwidthErrorCode = typeof BandwidthErrorCodes[keyof typeof BandwidthErrorCodes]

export function bandwidthError(code: BandwidthErrorCode, message: string, options: { cause?: unknown } = {}): PeerstageError {
  return new PeerstageError(code, message, options)
}
