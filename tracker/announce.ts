/**
 * One announce, in the order the tracker handles it: place the node by its source address,
 * hold a peer id to the subnet it registered from, register it, count what it reports,
 * hand out leases and peers per package, release the leases of packages it dropped, save,
 * and answer (clients their deployments; DPs budgets and what to replicate).
 */
import { leaseKey, type Lease } from './leases.ts'
import type { TrackerMetrics } from './metrics.ts'
import { TrackerErrorCodes, trackerError, type AnnounceAnswer, type AnnounceRequest, type BudgetList, type HandedPeer, type Placement } from './protocol/index.ts'
import { signatureOf, type Registration } from './registry.ts'
import type { TrackerView } from './status.ts'
import type { ReplicaPlan, SiteTree } from './replication.ts'
import type { SharedStore, StoreOp } from './store/index.ts'

/** The parts of the tracker an announce reads and changes: the views' state, and more. */
export interface AnnounceParts extends Omit<TrackerView, 'plan' | 'now'> {
  tree: SiteTree
  metrics: TrackerMetrics
  now: () => Date
  /** What each site's DPs must hold now: replaced when the catalogue changes. */
  plan: () => ReplicaPlan
  /** Saves the ops in one batch (STORE_FAILED if the store refuses). */
  write: (ops: StoreOp[]) => Promise<void>
  /** Drops a node and hands its leases back; `stopped`: it said goodbye, and is remembered as stopped. */
  forget: (peerId: string, ops: StoreOp[], stopped?: boolean) => void
  releaseLease: (subnet: string, packageId: string, peerId: string, ops: StoreOp[]) => void
  /** A client wanted a lease of a full slot: it is told when one is handed back. */
  leaseRefused: (subnet: string, packageId: string, peerId: string) => void
  /** The rate each lease holder of a subnet gets. */
  leaseRate: (subnet: string) => number | null
  budgetList: (dpSite: string | undefined) => BudgetList
  /** With replicas: the store's atomic lease gate, so together they never exceed a slot's limit. */
  shared: SharedStore | undefined
}

/** Handles announces against the tracker's parts: `Tracker.announce()` delegates here. */
export class AnnounceHandler {
  private readonly parts: AnnounceParts
  private readonly siteSubnets = new Map<string, string[]>()
  private readonly dpServes = new Map<string, Set<string>>()

  constructor(parts: AnnounceParts) {
    this.parts = parts
    for (const s of parts.config.sites) this.siteSubnets.set(s.name, s.subnets.map((c) => c.text))
    for (const d of parts.config.dps) this.dpServes.set(d.peerId, new Set(d.serves))
  }

  /** Handles one announce from `sourceIp` (the connection's address). */
  async announce(req: AnnounceRequest, sourceIp: string): Promise<AnnounceAnswer> {
    const { parts } = this
    const started = performance.now()
    const now = parts.now().getTime()
    const place = parts.budgets.place(sourceIp)
    const ops: StoreOp[] = []
    const previous = parts.registry.get(req.peerId)
    this.checkBinding(req.peerId, previous, place.subnet, now)
    if (req.event === 'stopped') {
      parts.forget(req.peerId, ops, true)
      await parts.write(ops)
      return this.emptyAnswer(place)
    }
    if (previous !== undefined && previous.subnet !== place.subnet) parts.forget(req.peerId, ops) // expired there, not yet swept: its leases were for the old subnet
    const reg = this.registrationOf(req, sourceIp, place, previous, now)
    this.countReports(req, reg, ops)
    this.register(req, reg, previous, now, ops)
    const packages = await this.handOut(req, reg, now, ops)
    this.releaseDropped(reg, previous, ops)
    await parts.write(ops)
    const answer = this.answerOf(req, reg, packages, now)
    parts.metrics.announces.inc({ role: req.role })
    parts.metrics.announceSeconds.observe((performance.now() - started) / 1000)
    return answer
  }

  /** A peer id stays where it first announced from: another subnet is refused until it expires or is released. */
  private checkBinding(peerId: string, previous: Registration | undefined, subnet: string, now: number): void {
    if (previous !== undefined && previous.subnet !== subnet && previous.expiresAt > now) {
      throw trackerError(TrackerErrorCodes.PEER_BOUND, `${peerId} is registered from subnet ${previous.subnet} until ${new Date(previous.expiresAt).toISOString()}; an announce from ${subnet} is refused (an admin may release it: peerstage node release ${peerId})`, { details: { subnet: previous.subnet } })
    }
  }

  /** The answer to a node that stopped: where it is, and nothing to do. */
  private emptyAnswer(place: Placement): AnnounceAnswer {
    return { subnet: place.subnet, site: place.site ?? null, intervalSeconds: this.parts.config.announceIntervalSeconds, packages: [], deployments: [] }
  }

  /** The node as this announce places it: addresses `0.0.0.0` become its source address; counters carry over within a subnet. */
  private registrationOf(req: AnnounceRequest, sourceIp: string, { subnet, site }: Placement, previous: Registration | undefined, now: number): Registration {
    return {
      peerId: req.peerId,
      role: req.role,
      ...(req.name !== undefined && { name: req.name }),
      ...(req.version !== undefined && { version: req.version }),
      ...(req.problem !== undefined && { problem: req.problem }),
      seenAt: now,
      ip: sourceIp,
      subnet,
      site,
      addresses: req.addresses.map((a) => a.replace(/^\/ip4\/0\.0\.0\.0\//, `/ip4/${sourceIp}/`)),
      packages: Object.fromEntries(req.packages.map((p) => [p.id, { have: p.have, pieces: p.pieces, ...(req.role === 'dp' && p.replica !== undefined && { replica: p.replica }) }])),
      counters: previous?.subnet === subnet ? previous.counters : {},
      expiresAt: now + this.parts.config.registrationSeconds * 1000,
    }
  }

  /** Byte counters per subnet, and a client's deployment reports. */
  private countReports(req: AnnounceRequest, reg: Registration, ops: StoreOp[]): void {
    const { catalogue, bytes, budgets, deployments } = this.parts
    const packageBytes = (id: string): number | undefined => (catalogue.has(id) ? catalogue.get(id).bytes : undefined)
    bytes.count(reg, req.packages, (ip) => budgets.place(ip).subnet, ops, packageBytes)
    if (req.role === 'client' && req.deployments !== undefined) deployments.report(reg, req.deployments, ops, packageBytes)
  }

  /** Puts the registration in force, and in the store when it is worth saving. */
  private register(req: AnnounceRequest, reg: Registration, previous: Registration | undefined, now: number, ops: StoreOp[]): void {
    this.parts.registry.put(reg)
    // Other DPs tell replication (by link) from client pulls by the DP list: they learn of a new DP at once.
    if ((req.role === 'dp' || previous?.role === 'dp') && (previous?.role !== req.role || previous.site !== reg.site)) this.parts.budgets.bump()
    if (this.worthSaving(reg, previous, now)) ops.push({ type: 'put', kind: 'registration', key: reg.peerId, value: reg })
  }

  /**
   * A re-announce that changes nothing but the expiry is saved only once a third of the
   * registration's life has passed since the last save: a restarted tracker may then expire
   * a silent node up to a third early, never keep one too long.
   */
  private worthSaving(reg: Registration, previous: Registration | undefined, now: number): boolean {
    reg.signature = signatureOf(reg)
    reg.savedAt = now
    if (previous === undefined || previous.signature !== reg.signature || previous.savedAt === undefined) return true
    if (now - previous.savedAt >= this.parts.config.registrationSeconds * 1000 / 3) return true
    reg.savedAt = previous.savedAt
    return false
  }

  /** Per package reported: a client's WAN lease, and peers while the node still wants pieces. */
  private async handOut(req: AnnounceRequest, reg: Registration, now: number, ops: StoreOp[]): Promise<AnnounceAnswer['packages']> {
    const { registry, leases } = this.parts
    const packages: AnnounceAnswer['packages'] = []
    for (const p of req.packages) {
      const wanted = p.have < p.pieces
      // A site's own DP holding it all serves its clients over the LAN: no lease, so no DP across the WAN races it.
      const lease = req.role === 'client' ? await this.leaseFor(reg, p.id, wanted && !registry.siteDpHolds(reg.site, p.id), now, ops) : undefined
      const peers = wanted ? this.peersFor(reg, p.id, lease !== undefined) : []
      packages.push({ id: p.id, peers, lease: lease === undefined ? null : { rateBytesPerSec: this.parts.leaseRate(reg.subnet), expiresAt: new Date(lease.expiresAt).toISOString(), share: leases.shareOf(lease) } })
    }
    return packages
  }

  private async leaseFor(reg: Registration, packageId: string, wanted: boolean, now: number, ops: StoreOp[]): Promise<Lease | undefined> {
    const { parts } = this
    if (!wanted) {
      parts.releaseLease(reg.subnet, packageId, reg.peerId, ops)
      return undefined
    }
    const ttlMs = parts.config.leaseSeconds * 1000
    let limit = parts.budgets.maxWanClientsOf(reg.subnet)
    if (parts.shared !== undefined) {
      // The store decides; this replica's table follows (it may not have seen the others' latest).
      // A slot full here is full there too, but for a lease handed back within the feed's delay.
      const granted = !parts.leases.fullWithout(reg.subnet, packageId, reg.peerId, limit, now)
        && await parts.shared.acquireLease({ subnet: reg.subnet, packageId, peerId: reg.peerId }, limit, now, ttlMs)
      if (!granted) {
        parts.releaseLease(reg.subnet, packageId, reg.peerId, ops)
        parts.leaseRefused(reg.subnet, packageId, reg.peerId)
        return undefined
      }
      limit = Number.POSITIVE_INFINITY
    }
    const { lease, expired } = parts.leases.acquire(reg.subnet, packageId, reg.peerId, limit, now, ttlMs)
    for (const l of expired) ops.push({ type: 'del', kind: 'lease', key: leaseKey(l) })
    if (lease !== undefined) ops.push({ type: 'put', kind: 'lease', key: leaseKey(lease), value: lease })
    else parts.leaseRefused(reg.subnet, packageId, reg.peerId)
    return lease
  }

  /** A DP replicates from its own site's DPs, then its parent site's; a client takes LAN peers, then (with a lease) DPs nearest first. */
  private peersFor(reg: Registration, packageId: string, leased: boolean): HandedPeer[] {
    const { config, registry, tree } = this.parts
    if (reg.role === 'dp') return registry.dpPeersFor(reg, packageId, { max: config.maxPeers, parentSite: tree.parentOf(reg.site) })
    return registry.peersFor(reg, packageId, {
      max: config.maxPeers,
      wan: leased,
      siteSubnets: reg.site === undefined ? [] : this.siteSubnets.get(reg.site) ?? [],
      servesSite: (dp, s) => this.dpServes.get(dp)?.has(s) ?? false,
      upstreamSites: tree.ancestorsOf(reg.site),
    })
  }

  /** Leases of packages the node no longer reports at all. */
  private releaseDropped(reg: Registration, previous: Registration | undefined, ops: StoreOp[]): void {
    if (previous === undefined) return
    for (const id of Object.keys(previous.packages)) if (!(id in reg.packages)) this.parts.releaseLease(reg.subnet, id, reg.peerId, ops)
  }

  /** Clients get the deployments that target them; DPs the budgets and what their site must hold. */
  private answerOf(req: AnnounceRequest, reg: Registration, packages: AnnounceAnswer['packages'], now: number): AnnounceAnswer {
    const { parts } = this
    const deployments = req.role === 'client' ? parts.deployments.offersFor(reg, now) : []
    const answer: AnnounceAnswer = { now, subnet: reg.subnet, site: reg.site ?? null, intervalSeconds: parts.config.announceIntervalSeconds, packages, deployments }
    if (req.role === 'client') answer.siteSubnets = reg.site === undefined ? [reg.subnet] : this.siteSubnets.get(reg.site) ?? [reg.subnet]
    if (req.role === 'dp') {
      answer.budgets = parts.budgetList(reg.site)
      answer.replicate = parts.plan().offersFor(reg.site)
    }
    return answer
  }
}
