import type { Clock } from '../../bandwidth/index.ts'

/** Cumulative bytes of one site at one instant, as clients reported them (or DPs, dpUpload). */
export interface SiteBytes {
  lan: number
  wan: number
  reused: number
  dpUpload: number
}

export interface HistorySample {
  at: string
  /** Site name → its totals; subnets in no configured site under `(unassigned)`. */
  sites: Record<string, SiteBytes>
}

export interface ByteHistoryInit {
  /** @default 5000 */
  intervalMs?: number
  /** Samples kept; the oldest go first. @default 720 (an hour at 5 s) */
  maxSamples?: number
}

/** What the history reads each tick: the per-site totals now. */
export type SiteBytesSource = () => Record<string, SiteBytes>

/**
 * A bounded ring of per-site byte totals sampled every few seconds, for the dashboard's
 * chart of WAN and LAN bytes over time. In memory only: a restarted tracker starts a new
 * history (the totals themselves are kept by the store).
 */
export class ByteHistory {
  private readonly samples: HistorySample[] = []
  private readonly intervalMs: number
  private readonly maxSamples: number
  private cancel: (() => void) | undefined
  private readonly read: SiteBytesSource
  private readonly components: { clock: Clock, now: () => Date }

  constructor(read: SiteBytesSource, components: { clock: Clock, now: () => Date }, init: ByteHistoryInit = {}) {
    this.read = read
    this.components = components
    this.intervalMs = init.intervalMs ?? 5000
    this.maxSamples = init.maxSamples ?? 720
    if (!(this.intervalMs > 0)) throw new RangeError(`intervalMs must be above 0, got ${this.intervalMs}`)
    if (!(Number.isInteger(this.maxSamples) && this.maxSamples > 0)) throw new RangeError(`maxSamples must be a positive integer, got ${this.maxSamples}`)
  }

  /** Samples now, then every interval. Safe to call twice. */
  start(): void {
    if (this.cancel !== undefined) return
    const tick = (): void => {
      this.sample()
      this.cancel = this.components.clock.setTimer(tick, this.intervalMs)
    }
    tick()
  }

  stop(): void {
    this.cancel?.()
    this.cancel = undefined
  }

  sample(): void {
    this.samples.push({ at: this.components.now().toISOString(), sites: this.read() })
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples)
  }

  /** Oldest first. */
  list(): readonly HistorySample[] {
    return this.samples
  }

  get json(): { intervalMs: number, maxSamples: number, samples: readonly HistorySample[] } {
    return { intervalMs: this.intervalMs, maxSamples: this.maxSamples, samples: this.samples }
  }
}

/**
 * Per-site sums of the byte totals per subnet: every site of `sites` (zeros until it has
 * bytes), and subnets in no configured site under `(unassigned)`. Reads the totals the
 * tracker keeps, not its status view, which costs a budget evaluation per subnet.
 */
export function siteBytesOf(bySubnet: Iterable<[string, ReadonlyMap<string, Readonly<SiteBytes>>]>, sites: readonly string[], siteOf: (subnet: string) => string | undefined): Record<string, SiteBytes> {
  const out: Record<string, SiteBytes> = {}
  for (const site of sites) out[site] = { lan: 0, wan: 0, reused: 0, dpUpload: 0 }
  for (const [subnet, packages] of bySubnet) {
    const t = out[siteOf(subnet) ?? '(unassigned)'] ??= { lan: 0, wan: 0, reused: 0, dpUpload: 0 }
    for (const b of packages.values()) {
      t.lan += b.lan
      t.wan += b.wan
      t.reused += b.reused
      t.dpUpload += b.dpUpload
    }
  }
  return out
}
