import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AuditLog } from '../common/index.ts'
import { plainIpv4, TrackerErrorCodes } from './protocol/index.ts'

/** `rateLimit:` of the tracker config: requests per source address. */
export interface RateLimitConfig {
  /** Requests each address may make per second, sustained. 0 = no limit. */
  perAddressPerSecond: number
  /** Requests an idle address may make at once. */
  burst: number
}

/**
 * Generous enough for a branch of 1,000 clients behind one NAT address (README, "Overload"):
 * each announces every 30 s and keeps one changes long-poll open (≤ 25 s), ~0.08 requests/s,
 * so ~80/s for the branch; and after a power cut every client announces and polls at once.
 */
export const RATE_LIMIT_DEFAULTS: RateLimitConfig = { perAddressPerSecond: 100, burst: 2000 }

/** Addresses followed at once: past it the first seen are forgotten (they start again with a full bucket). */
const MAX_ADDRESSES = 100_000

/** Routes no one floods the tracker through: liveness checks stay cheap and always answered. */
const EXEMPT = new Set(['/v1/health'])

interface Bucket {
  tokens: number
  atMs: number
}

/** How often idle addresses are swept out of the map. */
const SWEEP_EVERY_MS = 1000

/**
 * One token bucket per source address, in a bounded map: once a second the addresses whose
 * buckets are full again (idle that long) are forgotten, and a new address past MAX_ADDRESSES
 * makes room by forgetting the tenth that came first (they start again with a full bucket).
 * Buckets are updated in place and evicted in batches: a Map used as an LRU (delete and set
 * on every request) leaves holes V8 walks on each `keys().next()`, 100 µs a request when full.
 * `take` answers 0 when a request may go on, else the seconds to wait.
 */
export class AddressRateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly config: RateLimitConfig
  private readonly nowMs: () => number
  private readonly maxAddresses: number
  private sweptAtMs = -Infinity

  constructor(config: RateLimitConfig, nowMs: () => number, maxAddresses = MAX_ADDRESSES) {
    this.config = config
    this.nowMs = nowMs
    this.maxAddresses = maxAddresses
  }

  get size(): number {
    return this.buckets.size
  }

  /** 0: go on. Otherwise the whole seconds until one request may pass (Retry-After). */
  take(addr: string): number {
    const { perAddressPerSecond: rate, burst } = this.config
    if (rate === 0) return 0
    const now = this.nowMs()
    if (Math.abs(now - this.sweptAtMs) >= SWEEP_EVERY_MS) this.forgetIdle(now)
    let b = this.buckets.get(addr)
    if (b === undefined) {
      if (this.buckets.size >= this.maxAddresses) this.forgetOldest(Math.max(1, Math.ceil(this.maxAddresses / 10)))
      b = { tokens: burst, atMs: now }
      this.buckets.set(addr, b)
    }
    b.tokens = this.tokensOf(b, now)
    b.atMs = now
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate))
  }

  /** A wall clock stepped back refills nothing. */
  private tokensOf(b: Bucket, now: number): number {
    return Math.min(this.config.burst, b.tokens + (Math.max(0, now - b.atMs) / 1000) * this.config.perAddressPerSecond)
  }

  /** Every address whose bucket has refilled: it is as good as new. */
  private forgetIdle(now: number): void {
    this.sweptAtMs = now
    for (const [addr, b] of this.buckets) if (this.tokensOf(b, now) >= this.config.burst) this.buckets.delete(addr)
  }

  private forgetOldest(count: number): void {
    for (const addr of this.buckets.keys()) {
      if (count-- <= 0) return
      this.buckets.delete(addr)
    }
  }
}

/**
 * Registers the limiter as the first `onRequest` hook: a flood is refused before its token
 * is checked or its body read, with 429, `Retry-After` and PEERSTAGE_TRACKER_RATE_LIMITED.
 */
export function registerRateLimit(app: FastifyInstance, config: RateLimitConfig, nowMs: () => number, audit?: AuditLog): AddressRateLimiter {
  const limiter = new AddressRateLimiter(config, nowMs)
  app.addHook('onRequest', async (req: FastifyRequest, reply) => {
    if (EXEMPT.has(req.routeOptions.url ?? '')) return
    const addr = plainIpv4(req.socket.remoteAddress ?? '')
    const waitSeconds = limiter.take(addr)
    if (waitSeconds === 0) return
    audit?.('rate-limited', { addr, route: req.routeOptions.url ?? req.url.split('?')[0] })
    return reply.code(429).header('retry-after', String(waitSeconds)).send({
      error: { code: TrackerErrorCodes.RATE_LIMITED, message: `too many requests from ${addr}: try again in ${waitSeconds} s` },
    })
  })
  return limiter
}
