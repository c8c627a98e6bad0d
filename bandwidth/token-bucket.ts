import { systemClock, type Clock } from './clock.ts'
import { BandwidthErrorCodes, bandwidthError } from './errors.ts'
import { UNLIMITED, type Rate } from './rate.ts'

/** Anything bytes must pass before they move: a bucket, or a chain of them. */
export interface Limiter {
  /** Resolves once `bytes` may move; rejects with PEERSTAGE_BANDWIDTH_ABORTED on abort. */
  take(bytes: number, signal?: AbortSignal): Promise<void>
}

export interface TokenBucketInit {
  /** Bytes per second; Infinity = unlimited, 0 = closed. */
  rateBytesPerSec: Rate
  /**
   * Most bytes that may pass at once after an idle spell. Keep it at least 4× the largest
   * write: a bucket the size of one write loses ~11 % to timer lateness.
   * @default max(256 KiB, rate × 50 ms)
   */
  capacityBytes?: number
  /**
   * Tokens at start. A bucket starts empty by default, so a budget is never exceeded by a
   * burst at start-up: over any span from creation, bytes ≤ rate × span.
   * @default 0
   */
  initialBytes?: number
}

export interface TokenBucketComponents {
  clock?: Clock
}

interface Waiter {
  bytes: number
  resolve: () => void
  reject: (err: Error) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** Default capacity: 4× a 64 KiB write, or 50 ms of traffic at high rates. */
export function defaultCapacity(rate: Rate): number {
  return Math.max(256 * 1024, Number.isFinite(rate) ? Math.ceil(rate * 0.05) : 0)
}

/**
 * A byte token bucket on a monotonic clock. Waiters are served strictly in arrival order,
 * so a large request is never starved by a stream of small ones; each waits exactly its
 * deficit. A request larger than the capacity passes once the bucket is full and leaves it
 * in debt, which later requests repay: the long-run rate stays exact.
 */
export class TokenBucket implements Limiter {
  private rate: Rate
  private readonly capacity: number
  private tokens: number
  private last: number
  private readonly clock: Clock
  private readonly queue: Waiter[] = []
  private cancelTimer: (() => void) | undefined

  constructor(init: TokenBucketInit, components: TokenBucketComponents = {}) {
    checkRate(init.rateBytesPerSec)
    this.rate = init.rateBytesPerSec
    this.capacity = init.capacityBytes ?? defaultCapacity(init.rateBytesPerSec)
    if (!(this.capacity > 0)) throw new RangeError(`capacityBytes must be positive, got ${this.capacity}`)
    this.tokens = Math.min(init.initialBytes ?? 0, this.capacity)
    this.clock = components.clock ?? systemClock
    this.last = this.clock.nowMs()
  }

  get rateBytesPerSec(): Rate {
    return this.rate
  }

  get capacityBytes(): number {
    return this.capacity
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.queue.length
  }

  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) return Promise.reject(new RangeError(`bytes must be a finite number >= 0, got ${bytes}`))
    if (signal?.aborted) return Promise.reject(aborted(signal))
    this.refill()
    if (this.queue.length === 0 && this.grant(bytes)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject, signal, onAbort: undefined }
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter)
          if (i === -1) return
          this.queue.splice(i, 1)
          reject(aborted(signal))
          this.schedule() // the next waiter may be able to go now
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.queue.push(waiter)
      if (this.queue.length === 1) this.schedule()
    })
  }

  /** Takes at once if possible and nobody is waiting; never waits. */
  tryTake(bytes: number): boolean {
    this.refill()
    return this.queue.length === 0 && this.grant(bytes)
  }

  /** Takes effect at once, for waiters too: tokens so far accrue at the old rate. */
  setRate(rate: Rate): void {
    checkRate(rate)
    this.refill()
    this.rate = rate
    this.schedule()
  }

  /** Rejects every waiter (for shutdown). */
  close(err: Error = new Error('bucket closed')): void {
    this.cancelTimer?.()
    this.cancelTimer = undefined
    for (const w of this.queue.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
      w.reject(err)
    }
  }

  private refill(): void {
    const now = this.clock.nowMs()
    if (this.rate === UNLIMITED) this.tokens = this.capacity
    else this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate)
    this.last = now
  }

  /** Grants when the tokens cover the request, or, for oversize ones, a full bucket. */
  private grant(bytes: number): boolean {
    if (this.rate === UNLIMITED) return true
    const need = Math.min(bytes, this.capacity)
    // A hair of slack absorbs floating-point error in the refill arithmetic.
    if (this.tokens + 1e-6 < need) return false
    this.tokens -= bytes
    return true
  }

  /** Serves the head of the queue as far as tokens go, then sleeps exactly the deficit. */
  private schedule(): void {
    this.cancelTimer?.()
    this.cancelTimer = undefined
    this.refill()
    while (this.queue.length > 0 && this.grant(this.queue[0]!.bytes)) {
      const w = this.queue.shift()!
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
      w.resolve()
    }
    const head = this.queue[0]
    if (head === undefined || this.rate === 0) return // closed: wait for setRate
    const deficit = Math.min(head.bytes, this.capacity) - this.tokens
    this.cancelTimer = this.clock.setTimer(() => {
      this.cancelTimer = undefined
      this.schedule()
    }, (deficit / this.rate) * 1000)
  }
}

function checkRate(rate: Rate): void {
  if (!(rate >= 0)) throw new RangeError(`rate must be >= 0 bytes/s (Infinity = unlimited), got ${rate}`)
}

function aborted(signal: AbortSignal): Error {
  return bandwidthError(BandwidthErrorCodes.ABORTED, 'gave up waiting for bandwidth', { cause: signal.reason })
}
