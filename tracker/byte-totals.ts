import { parseCidr } from './protocol/index.ts'
import type { TrackerMetrics } from './metrics.ts'
import type { Registration } from './registry.ts'
import type { StoreOp } from './store/index.ts'

/** Bytes a subnet cost for one package: what its nodes received, and what DPs sent it. */
export interface ByteTotals {
  lan: number
  wan: number
  reused: number
  dpUpload: number
}

/** One package of an announce, as far as byte counting goes. */
export interface CountedPackage {
  id: string
  bytes?: { lan?: number, wan?: number, reused?: number }
  uploaded?: Record<string, number>
}

const SOURCES = ['lan', 'wan', 'reused'] as const

/** Per subnet and package byte totals (store kind `bytes`, key `SUBNET PACKAGE`), from nodes' cumulative counters. */
export class ByteTotalsTable {
  /** subnet → package → totals. */
  private readonly bytes = new Map<string, Map<string, ByteTotals>>()
  private readonly metrics: TrackerMetrics

  constructor(metrics: TrackerMetrics) {
    this.metrics = metrics
  }

  subnets(): IterableIterator<string> {
    return this.bytes.keys()
  }

  /** Package → totals of one subnet. */
  of(subnet: string): ReadonlyMap<string, ByteTotals> {
    return this.bytes.get(subnet) ?? new Map()
  }

  /** Sets one subnet and package's totals as stored (key `SUBNET PACKAGE`). */
  restore(key: string, value: unknown): void {
    Object.assign(this.totalsOf(key), value as ByteTotals)
  }

  /** Adds what another replica counted (its `add` op). */
  add(key: string, deltas: Readonly<Record<string, number>>): void {
    const t = this.totalsOf(key)
    for (const [source, n] of Object.entries(deltas)) if (source in t) t[source as keyof ByteTotals] += n
  }

  /** Keys of every subnet and package counted. */
  keys(): string[] {
    return [...this.bytes].flatMap(([subnet, m]) => [...m.keys()].map((id) => `${subnet} ${id}`))
  }

  forget(key: string): void {
    const cut = key.indexOf(' ')
    this.bytes.get(key.slice(0, cut))?.delete(key.slice(cut + 1))
  }

  private totalsOf(key: string): ByteTotals {
    const cut = key.indexOf(' ')
    return this.totals(key.slice(0, cut), key.slice(cut + 1))
  }

  /**
   * Turns the node's cumulative counters into deltas on the subnets' totals (a restarted
   * node starts again from 0) and keeps them in `reg.counters`. DPs' uploads count for the
   * subnet they went to, placed by `subnetOf`. What a node received grows by at most the
   * package (`packageBytes`, when known) per announce: the excess is not counted.
   */
  count(reg: Registration, packages: readonly CountedPackage[], subnetOf: (ip: string) => string, ops: StoreOp[], packageBytes: (packageId: string) => number | undefined = () => undefined): void {
    for (const p of packages) {
      const prev = reg.counters[p.id] ?? {}
      const next: Record<string, number> = {}
      const add = (subnet: string, source: keyof ByteTotals, key: string, value: number | undefined): void => {
        if (value === undefined || value <= 0) return
        next[key] = value
        const before = prev[key] ?? 0
        let delta = value >= before ? value - before : value
        const most = source === 'dpUpload' ? undefined : packageBytes(p.id)
        if (most !== undefined && delta > most) {
          delta = most
          this.metrics.ignoredReports.inc({ reason: 'implausible_bytes' })
        }
        if (delta === 0) return
        const t = this.totals(subnet, p.id)
        t[source] += delta
        this.metrics.reportedBytes.inc({ subnet, source }, delta)
        // An addition, not the total: replicas sharing a store count the same subnet at once
        // (the batch writer folds a batch's additions to one record into one).
        ops.push({ type: 'add', kind: 'bytes', key: `${subnet} ${p.id}`, value: { [source]: delta } })
      }
      for (const s of SOURCES) add(reg.subnet, s, s, p.bytes?.[s])
      for (const [to, n] of Object.entries(p.uploaded ?? {})) {
        const cidr = parseCidr(to)
        if (cidr !== undefined) add(subnetOf(to.slice(0, to.indexOf('/'))), 'dpUpload', `up ${cidr.text}`, n)
      }
      reg.counters[p.id] = next
    }
  }

  private totals(subnet: string, packageId: string): ByteTotals {
    let m = this.bytes.get(subnet)
    if (m === undefined) this.bytes.set(subnet, m = new Map())
    let t = m.get(packageId)
    if (t === undefined) m.set(packageId, t = { lan: 0, wan: 0, reused: 0, dpUpload: 0 })
    return t
  }
}
