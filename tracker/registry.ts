import type { HandedPeer, ReplicaReport, Tier } from './protocol/index.ts'

/** What a node told the tracker at its last announce, and where the tracker placed it. */
export interface Registration {
  peerId: string
  role: 'client' | 'dp'
  /** Source address of the announce: the tracker's, never the node's own claim. */
  ip: string
  subnet: string
  site: string | undefined
  addresses: string[]
  /** Package id → pieces held of pieces in all; DPs: the package's replication state there. */
  packages: Record<string, { have: number, pieces: number, replica?: ReplicaReport }>
  /** Cumulative byte counters last reported, per package, to turn reports into deltas. */
  counters: Record<string, Record<string, number>>
  expiresAt: number
  /** When the registration was last written to the store, and what it said then. */
  savedAt?: number
  signature?: string
}

/** Candidates examined per tier: at least this many, */
const SAMPLE_MIN = 64
/** or this many per place to fill. */
const SAMPLE_FACTOR = 2

/** One node's standing for one package, as the index keeps it. */
interface Holding {
  reg: Registration
  have: number
  pieces: number
}

/** Peers handed out for one package: each tier appended nearest first, no node twice, never the asker. */
class Handout {
  readonly peers: HandedPeer[] = []
  private readonly taken: Set<Registration>
  private readonly max: number

  constructor(asker: Registration, max: number) {
    this.taken = new Set([asker])
    this.max = max
  }

  /** Those holding more first, ties in random order. */
  add(groups: ReadonlyArray<Iterable<Holding> | undefined>, tier: Tier): void {
    const room = this.max - this.peers.length
    if (room <= 0) return
    // A large tier is sampled: its first max(SAMPLE_MIN, SAMPLE_FACTOR × room) candidates, those that
    // announced longest ago (announcing moves a node to the end): the sample rotates.
    const sample: Array<{ h: Holding, key: number }> = []
    let budget = Math.max(SAMPLE_MIN, SAMPLE_FACTOR * room)
    scan: for (const group of groups) {
      for (const h of group ?? []) {
        if (budget-- === 0) break scan
        if (!this.taken.has(h.reg)) sample.push({ h, key: h.have + Math.random() * 0.5 })
      }
    }
    sample.sort((a, b) => b.key - a.key)
    for (let i = 0; i < sample.length && i < room; i++) {
      const h = sample[i]!.h
      this.taken.add(h.reg)
      this.peers.push({ peerId: h.reg.peerId, addresses: h.reg.addresses, tier, have: h.have, pieces: h.pieces })
    }
  }
}

export interface ClientPeerOptions {
  max: number
  /** Whether the asker may pull across the WAN now (it holds a lease): DPs are handed only then. */
  wan: boolean
  siteSubnets: readonly string[]
  servesSite: (dp: string, site: string) => boolean
  /** The asker's site's ancestors, parent first: their DPs come before every other DP. */
  upstreamSites: readonly string[]
}

/**
 * Registered nodes, indexed by package and subnet so handing out peers costs the size of
 * the asker's neighbourhood, not of the estate.
 */
export class Registry {
  private readonly byId = new Map<string, Registration>()
  /** package → subnet → peer id → holding. Re-announcing moves a node to the end. */
  private readonly byPackage = new Map<string, Map<string, Map<string, Holding>>>()
  /** package → DP peer id → holding. */
  private readonly dpsByPackage = new Map<string, Map<string, Holding>>()
  /** Registered DPs: a few among many clients. */
  private readonly dpRegs = new Map<string, Registration>()

  get size(): number {
    return this.byId.size
  }

  get(peerId: string): Registration | undefined {
    return this.byId.get(peerId)
  }

  all(): IterableIterator<Registration> {
    return this.byId.values()
  }

  /** The registered DPs, oldest registration first. */
  dps(): IterableIterator<Registration> {
    return this.dpRegs.values()
  }

  /** Replaces the node's registration and its index entries. */
  put(reg: Registration): void {
    const old = this.byId.get(reg.peerId)
    if (old !== undefined) this.unindex(old)
    this.byId.set(reg.peerId, reg)
    if (reg.role === 'dp') this.dpRegs.set(reg.peerId, reg)
    for (const [id, p] of Object.entries(reg.packages)) {
      const holding = { reg, have: p.have, pieces: p.pieces }
      let subnets = this.byPackage.get(id)
      if (subnets === undefined) this.byPackage.set(id, subnets = new Map())
      let peers = subnets.get(reg.subnet)
      if (peers === undefined) subnets.set(reg.subnet, peers = new Map())
      peers.set(reg.peerId, holding)
      if (reg.role === 'dp') {
        let dps = this.dpsByPackage.get(id)
        if (dps === undefined) this.dpsByPackage.set(id, dps = new Map())
        dps.set(reg.peerId, holding)
      }
    }
  }

  remove(peerId: string): Registration | undefined {
    const reg = this.byId.get(peerId)
    if (reg === undefined) return undefined
    this.unindex(reg)
    this.byId.delete(peerId)
    return reg
  }

  /** Registrations expired at `now`, removed. */
  expire(now: number): Registration[] {
    const gone: Registration[] = []
    for (const reg of this.byId.values()) if (reg.expiresAt <= now) gone.push(reg)
    for (const reg of gone) this.remove(reg.peerId)
    return gone
  }

  /**
   * Peers for a client and one package, nearest first: same subnet, same site (the site's
   * DPs among them), then only when `wan`: DPs serving the site, DPs of the ancestor sites
   * (parent first), every other DP. Within a tier those holding more first, ties in random
   * order. Never the asker; never a client of another site.
   */
  peersFor(asker: Registration, packageId: string, options: ClientPeerOptions): HandedPeer[] {
    const out = new Handout(asker, options.max)
    const subnets = this.byPackage.get(packageId)
    if (subnets !== undefined) {
      out.add([subnets.get(asker.subnet)?.values()], 'subnet')
      if (asker.site !== undefined) out.add(options.siteSubnets.filter((s) => s !== asker.subnet).map((s) => subnets.get(s)?.values()), 'site')
    }
    if (options.wan) {
      const dps = this.dpsHolding(packageId)
      if (asker.site !== undefined) out.add([dps.filter((h) => options.servesSite(h.reg.peerId, asker.site!))], 'dp')
      for (const site of options.upstreamSites) out.add([dps.filter((h) => h.reg.site === site)], 'upstream-dp')
      out.add([dps], 'remote-dp')
    }
    return out.peers
  }

  /**
   * Peers for a DP replicating a package: only DPs holding some of it, its own site's
   * first (`subnet` on its subnet, else `site`), then its parent site's (`parent-dp`).
   * Never a client, never another site's DP: replication never skips a level. A DP in no
   * configured site gets the DPs of its own subnet.
   */
  dpPeersFor(asker: Registration, packageId: string, options: { max: number, parentSite: string | undefined }): HandedPeer[] {
    const out = new Handout(asker, options.max)
    const dps = this.dpsHolding(packageId)
    const own = dps.filter((h) => (asker.site === undefined ? h.reg.site === undefined && h.reg.subnet === asker.subnet : h.reg.site === asker.site))
    out.add([own.filter((h) => h.reg.subnet === asker.subnet)], 'subnet')
    out.add([own.filter((h) => h.reg.subnet !== asker.subnet)], 'site')
    if (options.parentSite !== undefined) out.add([dps.filter((h) => h.reg.site === options.parentSite)], 'parent-dp')
    return out.peers
  }

  /** Whether a DP of `site` holds the whole package: its clients then need no WAN at all. */
  siteDpHolds(site: string | undefined, packageId: string): boolean {
    if (site === undefined) return false
    for (const h of this.dpsByPackage.get(packageId)?.values() ?? []) if (h.reg.site === site && h.have === h.pieces) return true
    return false
  }

  /** DPs holding at least one piece of the package. */
  private dpsHolding(packageId: string): Holding[] {
    return [...(this.dpsByPackage.get(packageId)?.values() ?? [])].filter((h) => h.have > 0)
  }

  private unindex(reg: Registration): void {
    if (this.dpRegs.get(reg.peerId) === reg) this.dpRegs.delete(reg.peerId)
    for (const id of Object.keys(reg.packages)) {
      const subnets = this.byPackage.get(id)
      const peers = subnets?.get(reg.subnet)
      peers?.delete(reg.peerId)
      if (peers?.size === 0) subnets!.delete(reg.subnet)
      if (subnets?.size === 0) this.byPackage.delete(id)
      const dps = this.dpsByPackage.get(id)
      dps?.delete(reg.peerId)
      if (dps?.size === 0) this.dpsByPackage.delete(id)
    }
  }
}

/** Everything of a registration but its expiry, as one string to compare. */
export function signatureOf(reg: Registration): string {
  let s = `${reg.role}|${reg.ip}|${reg.addresses.join(' ')}`
  for (const [id, p] of Object.entries(reg.packages)) {
    s += `|${id}:${p.have}/${p.pieces}`
    if (p.replica !== undefined) s += `~${JSON.stringify(p.replica)}`
  }
  for (const [id, c] of Object.entries(reg.counters)) for (const [k, v] of Object.entries(c)) s += `|${id}.${k}=${v}`
  return s
}
