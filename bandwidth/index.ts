/**
 * bandwidth: what makes "2 Mbit/s during office hours, unlimited at night" true.
 *
 * - TokenBucket: byte tokens on a monotonic clock, FIFO-fair, exact waits, live setRate.
 * - LimiterChain / BandwidthHierarchy: global → site/link → subnet → peer; the slowest governs.
 * - throttle / createThrottleStream: async iterables and Node streams through a limiter.
 * - Schedules: `Mon-Fri 08:00-18:00 2Mbit/s` windows in an IANA zone, scoped precedence,
 *   rateAt / nextChange, applySchedule to re-apply at each boundary without polling.
 */
export { backgroundClock, systemClock, type Clock } from './clock.ts'
export { parseRate, formatRate, UNLIMITED, MAX_RATE, type Rate } from './rate.ts'
export { TokenBucket, defaultCapacity, type Limiter, type TokenBucketInit, type TokenBucketComponents } from './token-bucket.ts'
export { LimiterChain, BandwidthHierarchy, type LimiterScope, type BandwidthHierarchyInit } from './limiter.ts'
export { throttle, createThrottleStream, type ThrottleOptions } from './throttle-stream.ts'
export { parseWindow, parseDays, type BandwidthWindow, type WindowSpec } from './window.ts'
export {
  parseSchedule, parseScheduleText, rateAt, nextChange, applySchedule,
  type Schedule, type ScheduleSpec, type RateDecision, type RateTarget, type ApplyScheduleComponents,
} from './schedule.ts'
export { localMinuteOfWeek, checkTimeZone } from './zoned-time.ts'
export { BandwidthErrorCodes, type BandwidthErrorCode } from './errors.ts'
