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

/** Addresses followed at once: past it the least recently seen is forgotten (it starts again with a full bucket). */
const MAX_ADDRESSES = 100_000

/** Routes no one floods the tracker through: liveness checks stay cheap and always answered. */
const EXEMPT = new Set(['/v1/health'])

interface Bucket {
  tokens: number
  atMs: number
}

/**
 * One token bucket per source address, in a bounded map that forgets an address once its
 * bucket would be full again (it has been idle that long) and, past MAX_ADDRESSES, the least
 * recently seen one. `take` answers 0 when a request may go on, else the seconds to wait.
 */
export class AddressRateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly config: RateLimitConfig
  private readonly nowMs: () => number
  private readonly maxAddresses: number

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
    this.forgetIdle(now)
    const b = this.buckets.get(addr)
    let tokens = burst
    if (b !== undefined) {
      tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.atMs) / 1000) * rate) // a wall clock stepped back refills nothing
      this.buckets.delete(addr) // re-inserted below: the map stays in least-recently-seen order
    }
    const allowed = tokens >= 1
    if (allowed) tokens -= 1
    this.buckets.set(addr, { tokens, atMs: now })
    if (this.buckets.size > this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!)
    return allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / rate))
  }

  /** The least recently seen addresses whose buckets have refilled: they are as good as new. */
  private forgetIdle(now: number): void {
    const { perAddressPerSecond: rate, burst } = this.config
    for (const [addr, b] of this.buckets) {
      if (b.tokens + ((now - b.atMs) / 1000) * rate < burst) return
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
