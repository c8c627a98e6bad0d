import { systemClock, type Clock } from './clock.ts'
import { TokenBucket, type Limiter } from './token-bucket.ts'
import { UNLIMITED, type Rate } from './rate.ts'

/**
 * Passes each limiter in turn (global → site/link → subnet → peer): a request moves once
 * every level has let it through, so the slowest level governs.
 */
export class LimiterChain implements Limiter {
  readonly limiters: readonly Limiter[]

  constructor(limiters: ReadonlyArray<Limiter | undefined>) {
    this.limiters = limiters.filter((l): l is Limiter => l !== undefined)
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    for (const l of this.limiters) await l.take(bytes, signal)
  }
}

/** Where bytes go (or come from): each level is optional. */
export interface LimiterScope {
  site?: string
  subnet?: string
  peer?: string
}

export interface BandwidthHierarchyInit {
  /** Capacity of every bucket made, bytes. @default see defaultCapacity */
  capacityBytes?: number
}

/**
 * Named buckets at four levels, made on demand. A level with no rate set (or set to
 * unlimited) takes no part. Used on the sending side (DP upload per destination subnet)
 * and the receiving side (request pacing) alike.
 */
export class BandwidthHierarchy {
  private readonly buckets = new Map<string, TokenBucket>()
  private readonly clock: Clock
  private readonly capacityBytes: number | undefined

  constructor(init: BandwidthHierarchyInit = {}, components: { clock?: Clock } = {}) {
    this.clock = components.clock ?? systemClock
    this.capacityBytes = init.capacityBytes
  }

  /** Sets (or, with unlimited, removes) the rate of one level; waiters see it at once. */
  setRate(level: 'global' | keyof LimiterScope, name: string | undefined, rate: Rate): void {
    const key = `${level}:${name ?? ''}`
    const bucket = this.buckets.get(key)
    if (bucket !== undefined) bucket.setRate(rate)
    else if (rate !== UNLIMITED) {
      this.buckets.set(key, new TokenBucket({ rateBytesPerSec: rate, ...(this.capacityBytes !== undefined && { capacityBytes: this.capacityBytes }) }, { clock: this.clock }))
    }
  }

  rateOf(level: 'global' | keyof LimiterScope, name?: string): Rate {
    return this.buckets.get(`${level}:${name ?? ''}`)?.rateBytesPerSec ?? UNLIMITED
  }

  /** The chain a transfer in `scope` passes. */
  limiterFor(scope: LimiterScope): LimiterChain {
    const get = (level: string, name: string | undefined): TokenBucket | undefined =>
      name === undefined && level !== 'global' ? undefined : this.buckets.get(`${level}:${name ?? ''}`)
    return new LimiterChain([get('global', undefined), get('site', scope.site), get('subnet', scope.subnet), get('peer', scope.peer)])
  }
}
