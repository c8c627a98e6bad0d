/** What a node told the tracker at its last announce, and where the tracker placed it. */
export interface Registration {
  peerId: string
  role: 'client' | 'dp'
  /** Source address of the announce: the tracker's, never the node's own claim. */
  ip: string
  subnet: string
  site: string | undefined
  addresses: string[]
  /** Package id → pieces held of pieces in all. */
  packages: Record<string, { have: number, pieces: number }>
  /** Cumulative byte counters last reported, per package, to turn reports into deltas. */
  counters: Record<string, Record<string, number>>
  expiresAt: number
}

export type Tier = 'subnet' | 'site' | 'dp' | 'remote-dp'

export interface HandedPeer {
  peerId: string
  addresses: string[]
  tier: Tier
  have: number
  pieces: number
}

/**
 * Registered nodes, indexed by package and subnet so handing out peers costs the size of
 * the asker's neighbourhood, not of the estate.
 */
export class Registry {
  private readonly byId = new Map<string, Registration>()
  /** package → subnet → peer ids holding or wanting it. */
  private readonly byPackage = new Map<string, Map<string, Set<string>>>()
  /** package → DP peer ids. */
  private readonly dpsByPackage = new Map<string, Set<string>>()

  get size(): number {
    return this.byId.size
  }

  get(peerId: string): Registration | undefined {
    return this.byId.get(peerId)
  }

  all(): IterableIterator<Registration> {
    return this.byId.values()
  }

  /** Replaces the node's registration and its index entries. */
  put(reg: Registration): void {
    const old = this.byId.get(reg.peerId)
    if (old !== undefined) this.unindex(old)
    this.byId.set(reg.peerId, reg)
    for (const id of Object.keys(reg.packages)) {
      let subnets = this.byPackage.get(id)
      if (subnets === undefined) this.byPackage.set(id, subnets = new Map())
      let peers = subnets.get(reg.subnet)
      if (peers === undefined) subnets.set(reg.subnet, peers = new Set())
      peers.add(reg.peerId)
      if (reg.role === 'dp') {
        let dps = this.dpsByPackage.get(id)
        if (dps === undefined) this.dpsByPackage.set(id, dps = new Set())
        dps.add(reg.peerId)
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
   * Peers for `asker` and one package, nearest first: same subnet, same site, DPs serving
   * the site, other DPs (the last two only when `wan`); within a tier those holding more
   * first. Never the asker; never a client of another site.
   */
  peersFor(asker: Registration, packageId: string, options: { max: number, wan: boolean, siteSubnets: readonly string[], servesSite: (dp: string, site: string) => boolean }): HandedPeer[] {
    const out: HandedPeer[] = []
    const subnets = this.byPackage.get(packageId)
    const taken = new Set<string>([asker.peerId])
    const addTier = (ids: Iterable<string>, tier: Tier): void => {
      const regs: Registration[] = []
      for (const id of ids) {
        if (taken.has(id)) continue
        const r = this.byId.get(id)
        if (r !== undefined) regs.push(r)
      }
      regs.sort((a, b) => (b.packages[packageId]?.have ?? 0) - (a.packages[packageId]?.have ?? 0))
      for (const r of regs) {
        if (out.length >= options.max) return
        taken.add(r.peerId)
        const p = r.packages[packageId]!
        out.push({ peerId: r.peerId, addresses: r.addresses, tier, have: p.have, pieces: p.pieces })
      }
    }
    if (subnets !== undefined) {
      addTier(subnets.get(asker.subnet) ?? [], 'subnet')
      if (asker.site !== undefined) {
        addTier(options.siteSubnets.filter((s) => s !== asker.subnet).flatMap((s) => [...(subnets.get(s) ?? [])]), 'site')
      }
    }
    if (options.wan) {
      const dps = [...(this.dpsByPackage.get(packageId) ?? [])].filter((id) => (this.byId.get(id)?.packages[packageId]?.have ?? 0) > 0)
      const serving = asker.site === undefined ? [] : dps.filter((id) => options.servesSite(id, asker.site!))
      addTier(serving, 'dp')
      addTier(dps, 'remote-dp')
    }
    return out
  }

  private unindex(reg: Registration): void {
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
