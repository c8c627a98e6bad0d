/**
 * Time as the bandwidth module sees it: a monotonic clock for buckets (never jumps when
 * NTP or an operator sets the wall clock) and timers on it. Tests pass a fake one.
 */
export interface Clock {
  /** Monotonic milliseconds, sub-millisecond resolution. */
  nowMs(): number
  /** Calls `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void
}

const origin = process.hrtime.bigint()

export const systemClock: Clock = {
  nowMs: () => Number(process.hrtime.bigint() - origin) / 1e6,
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms))
    return () => clearTimeout(t)
  },
}

/** The system clock whose timers do not keep the process alive (background loops: announces, retries). */
export const backgroundClock: Clock = {
  nowMs: systemClock.nowMs,
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms))
    t.unref()
    return () => clearTimeout(t)
  },
}
