import { EventEmitter } from 'node:events'
import { BandwidthHierarchy, LimiterChain, TokenBucket, UNLIMITED, type Limiter } from '../bandwidth/index.ts'
import { silentLogger, type Logger } from '../common/index.ts'
import { slash24, SubnetIndex, parseCidr, type AnnounceAnswer, type AnnounceRequest, type BudgetList, type DeploymentReport, type HandedPeer, type ReplicaReport, type TrackerClient } from '../tracker/index.ts'
import type { PeerNode } from './peer-node.ts'
import { MAX_BLOCK_BYTES } from './wire/index.ts'
import type { PackageSwarm, PeerInfo } from './swarm.ts'

export interface TrackerAgentInit {
  tracker: TrackerClient
  role: 'client' | 'dp'
  /** DP: a cap per destination subnet on top of the tracker's budgets. */
  uploadLimiterFor?: (remote: PeerInfo) => Limiter | undefined
  /** Wait before retrying a failed announce or budget poll. @default 5000 */
  retryMs?: number
  /** Longest wait of one budgets long-poll (DP). @default 25 */
  budgetWaitSeconds?: number
  /** The wall clock announces are signed at (the tracker checks it against its own). @default the system's */
  now?: () => Date
  logger?: Logger
}

/** A peer that failed to dial is not tried again for this long. */
const DIAL_BACKOFF_MS = 30_000
/** First wait before asking the tracker again when a package has no useful peer; it doubles up to the announce interval. */
const STARVED_FIRST_MS = 1000
const WAN_TIERS = new Set(['dp', 'upstream-dp', 'remote-dp', 'parent-dp'])
/** Buckets hold four of the largest blocks: smaller ones lose rate to timer lateness (DESIGN, Bandwidth). */
const BUCKET_BYTES = 4 * MAX_BLOCK_BYTES

type Counters = { lan: number, wan: number, uploaded: Map<string, number> }

/**
 * A node's side of the tracker: announces every interval (and at once when a package
 * completes, so its WAN lease moves on), dials the peers handed out, and keeps the WAN
 * rules. A client asks DPs across the WAN only while it holds a lease, paced to the lease
 * rate, and only for pieces no LAN peer has; a DP keeps an upload bucket per destination
 * subnet at the tracker's budget, and one per inter-site link for the DPs of the sites
 * below it (replicating from its parent's DPs, it paces its requests to its own link),
 * long-polled so a window change arrives at once.
 *
 * Create it before the node and pass `nodeHooks()` into PeerNode.start, then `start(node)`.
 */
export class TrackerAgent extends EventEmitter<{ answer: [AnnounceAnswer], budgets: [BudgetList], warning: [Error] }> {
  private readonly init: TrackerAgentInit
  private readonly log: Logger
  private node: PeerNode | undefined
  private readonly wanPeers = new Set<string>()
  private readonly dialFailedAt = new Map<string, number>()
  /** `PACKAGE PEER` of dials under way: an announce answered meanwhile must not open a second wire. */
  private readonly dialing = new Set<string>()
  private readonly counters = new Map<string, Counters>()
  private readonly watched = new WeakSet<PackageSwarm>()
  /** Client: per package, the WAN requests pass its lease's bucket (rate 0 without a lease). */
  private readonly leaseBuckets = new Map<string, TokenBucket>()
  /** DP: per destination subnet, at the tracker's budgets. */
  private readonly budgetLimits = new BandwidthHierarchy({ capacityBytes: BUCKET_BYTES })
  /** DP: per inter-site link, named by the site at its far end, at the link's rate now. */
  private readonly linkLimits = new BandwidthHierarchy({ capacityBytes: BUCKET_BYTES })
  /** DP: each site's parent, for the sites with a link. */
  private linkParents = new Map<string, string>()
  /** DP: the registered DPs and their sites: uploads to them go by link, not by subnet budget. */
  private dpSites = new Map<string, string | null>()
  /** Our site, as the tracker placed us. */
  private site: string | null = null
  private subnetIndex = new SubnetIndex<string>([])
  private unassignedRate = UNLIMITED
  private budgetVersion = 0
  private timer: NodeJS.Timeout | undefined
  private announcing: Promise<void> | undefined
  private again = false
  /** Wait before the next announce while some package has no useful peer (0: none starved). */
  private starvedMs = 0
  /** Counts announces: only the latest one's dials time the next. */
  private generation = 0
  private stopped = false
  private readonly polling = new AbortController()
  intervalSeconds = 30
  /** Client: the deployment reports sent with every announce. */
  deploymentReports: (() => DeploymentReport[]) | undefined
  /** DP: each package's replication state, sent with every announce. */
  replicaReport: ((swarm: PackageSwarm) => ReplicaReport | undefined) | undefined
  /** DP: packages it must hold but has no swarm for (they failed first), so the tracker shows why. */
  unheldReplicas: (() => AnnounceRequest['packages']) | undefined

  constructor(init: TrackerAgentInit) {
    super()
    this.init = init
    this.log = init.logger ?? silentLogger()
  }

  /** What PeerNode.start needs to apply the tracker's rules. */
  nodeHooks(): { isWanPeer: (p: PeerInfo) => boolean, downloadLimiterFor: (p: PeerInfo, packageId: string) => Limiter | undefined, uploadLimiterFor: (p: PeerInfo) => Limiter | undefined } {
    return {
      isWanPeer: (p) => this.wanPeers.has(p.id),
      downloadLimiterFor: (p, packageId) => {
        if (!this.wanPeers.has(p.id)) return undefined
        // A client pulls a package across the WAN at its lease's rate; a DP replicates from its parent's DPs at the link's.
        return this.init.role === 'client' ? this.leaseBucketOf(packageId) : this.site === null ? undefined : this.linkLimits.limiterFor({ site: this.site })
      },
      uploadLimiterFor: (p) => {
        const budget = this.init.role === 'dp' ? this.uploadBudgetTo(p) : undefined
        const cap = this.init.uploadLimiterFor?.(p)
        return cap === undefined ? budget : new LimiterChain([budget, cap])
      },
    }
  }

  /**
   * DP: what an upload to `p` passes. A DP of a site whose link comes from ours replicates
   * at that link's rate; anyone else pulls within its subnet's WAN budget.
   */
  private uploadBudgetTo(p: PeerInfo): Limiter {
    const dpSite = this.dpSites.get(p.id)
    if (dpSite !== undefined && dpSite !== null && this.site !== null && this.linkParents.get(dpSite) === this.site) return this.linkLimits.limiterFor({ site: dpSite })
    return this.budgetLimits.limiterFor({ subnet: this.subnetOf(p.ip) })
  }

  /** DP: the rate of the link into `site` now, bytes/s. */
  linkRateOf(site: string): number {
    return this.linkLimits.rateOf('site', site)
  }

  /** The current upload budget toward a subnet (DP), bytes/s. */
  uploadRateTo(ip: string): number {
    return this.budgetLimits.rateOf('subnet', this.subnetOf(ip))
  }

  /** Package bytes received from LAN peers and across the WAN, in this process. */
  bytesOf(packageId: string): { lan: number, wan: number } {
    const c = this.counters.get(packageId)
    return { lan: c?.lan ?? 0, wan: c?.wan ?? 0 }
  }

  /** Client: the sum of its leases' rates, bytes/s. */
  get leaseRateBytesPerSec(): number {
    let sum = 0
    for (const b of this.leaseBuckets.values()) sum += b.rateBytesPerSec
    return sum
  }

  private leaseBucketOf(packageId: string): TokenBucket {
    let b = this.leaseBuckets.get(packageId)
    if (b === undefined) this.leaseBuckets.set(packageId, b = new TokenBucket({ rateBytesPerSec: 0, capacityBytes: BUCKET_BYTES }))
    return b
  }

  /** First announce: throws when the tracker is unreachable or refuses us. */
  async start(node: PeerNode): Promise<AnnounceAnswer> {
    this.node = node
    const answer = await this.announceOnce()
    if (this.init.role === 'dp') void this.pollBudgets()
    return answer
  }

  /** Announces now (coalescing with one in flight). */
  announceNow(): void {
    if (this.stopped || this.node === undefined) return
    if (this.announcing !== undefined) {
      this.again = true
      return
    }
    this.announcing = this.announceOnce().then(
      () => undefined,
      (err: Error) => {
        this.log.warn({ err: err.message }, 'announce failed')
        this.emit('warning', err)
        this.schedule(this.init.retryMs ?? 5000)
      },
    ).finally(() => {
      this.announcing = undefined
      if (this.again) {
        this.again = false
        this.announceNow()
      }
    })
  }

  /** Stops announcing and tells the tracker we are gone, so our leases move on at once. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.timer)
    this.polling.abort()
    await this.announcing
    if (this.node !== undefined) {
      try {
        await this.send({ ...this.request(), event: 'stopped' })
      } catch (err) {
        this.log.info({ err: (err as Error).message }, 'could not tell the tracker we stopped; our registration will expire')
      }
    }
    this.init.tracker.close()
  }

  /**
   * The announce interval, or sooner while some package has no useful peer: 1 s, then
   * doubling, so a client that started before its peers finds them without waiting a whole
   * interval, and one that truly has none does not hammer the tracker.
   */
  private nextWaitMs(): number {
    const interval = this.intervalSeconds * 1000
    this.starvedMs = this.starving() ? Math.min(interval, this.starvedMs === 0 ? STARVED_FIRST_MS : 2 * this.starvedMs) : 0
    return this.starvedMs === 0 ? interval : this.starvedMs
  }

  /** Some package we still miss pieces of has no peer holding any of them. */
  private starving(): boolean {
    return this.node?.allSwarms.some((s) => !s.pkg.complete && s.usefulPeerCount === 0) ?? false
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.generation++
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.announceNow(), ms)
    this.timer.unref()
  }

  private request(): AnnounceRequest {
    const node = this.node!
    return {
      peerId: node.peerId,
      role: this.init.role,
      addresses: node.addresses,
      packages: node.allSwarms.map((s): AnnounceRequest['packages'][number] => {
        this.watch(s)
        const id = s.pkg.packageId
        const c = this.countersOf(id)
        return {
          id,
          have: s.pkg.have.count(),
          pieces: s.pkg.pieceCount,
          bytes: { lan: c.lan, wan: c.wan, reused: node.reusedBytesOf(id) },
          ...(this.init.role === 'dp' && { uploaded: Object.fromEntries(c.uploaded) }),
          ...this.replicaOf(s),
        }
      }).concat(this.init.role === 'dp' ? this.unheldReplicas?.() ?? [] : []),
      ...(this.deploymentReports !== undefined && { deployments: this.deploymentReports() }),
    }
  }

  /** Every announce is signed with the node's key, at the agent's clock. */
  private send(body: AnnounceRequest): Promise<AnnounceAnswer> {
    const now = this.init.now
    return this.init.tracker.announce(body, this.node!.signer, now === undefined ? Date.now : () => now().getTime())
  }

  private replicaOf(swarm: PackageSwarm): { replica?: ReplicaReport } {
    const replica = this.init.role === 'dp' ? this.replicaReport?.(swarm) : undefined
    return replica === undefined ? {} : { replica }
  }

  /** Announces and follows the answer; the next announce is timed once its dials are done, by what they brought. */
  private async announceOnce(): Promise<AnnounceAnswer> {
    const answer = await this.send(this.request())
    this.intervalSeconds = answer.intervalSeconds
    this.site = answer.site
    if (answer.budgets !== undefined) this.applyBudgets(answer.budgets)
    const dials = this.follow(answer)
    const generation = ++this.generation
    void Promise.all(dials).then(() => {
      if (generation === this.generation) this.schedule(this.nextWaitMs())
    })
    this.emit('answer', answer)
    return answer
  }

  /**
   * Sets each package's lease rate, stops asking WAN peers of packages without a lease (the
   * blocks already asked for still land), dials new peers; returns the dials.
   */
  private follow(answer: AnnounceAnswer): Array<Promise<void>> {
    const node = this.node!
    const dials: Array<Promise<void>> = []
    for (const pa of answer.packages) {
      const swarm = node.swarmOf(pa.id)
      if (swarm === undefined) continue
      for (const p of pa.peers) if (WAN_TIERS.has(p.tier)) this.wanPeers.add(p.peerId)
      if (this.init.role === 'client') {
        this.leaseBucketOf(pa.id).setRate(pa.lease === null ? 0 : pa.lease.rateBytesPerSec ?? UNLIMITED)
        // A tracker older than shares sends none.
        if (pa.lease?.share !== undefined) swarm.setWanShare(pa.lease.share)
        for (const id of this.wanPeers) {
          if (pa.lease === null) swarm.retirePeer(id, 'no WAN lease')
          else swarm.keepPeer(id)
        }
      }
      if (swarm.pkg.complete) continue
      for (const p of pa.peers) {
        if (swarm.hasPeer(p.peerId) || swarm.isBanned(p.peerId) || this.dialing.has(`${pa.id} ${p.peerId}`)) continue
        if (Date.now() - (this.dialFailedAt.get(p.peerId) ?? -Infinity) < DIAL_BACKOFF_MS) continue
        dials.push(this.dial(pa.id, p))
      }
    }
    return dials
  }

  private async dial(packageId: string, peer: HandedPeer): Promise<void> {
    const key = `${packageId} ${peer.peerId}`
    this.dialing.add(key)
    try {
      for (const address of peer.addresses) {
        try {
          await this.node!.connect(packageId, address)
          this.dialFailedAt.delete(peer.peerId)
          return
        } catch (err) {
          this.log.info({ peer: peer.peerId, address, err: (err as Error).message }, 'dial failed')
        }
      }
      this.dialFailedAt.set(peer.peerId, Date.now())
    } finally {
      this.dialing.delete(key)
    }
  }

  private countersOf(id: string): Counters {
    let c = this.counters.get(id)
    if (c === undefined) this.counters.set(id, c = { lan: 0, wan: 0, uploaded: new Map() })
    return c
  }

  private watch(swarm: PackageSwarm): void {
    if (this.watched.has(swarm)) return
    this.watched.add(swarm)
    const c = this.countersOf(swarm.pkg.packageId)
    swarm.on('download', (n, from) => {
      if (this.wanPeers.has(from.id)) c.wan += n
      else c.lan += n
    })
    swarm.on('upload', (n, to) => {
      const subnet = this.subnetOf(to.ip)
      c.uploaded.set(subnet, (c.uploaded.get(subnet) ?? 0) + n)
    })
    // Done: tell the tracker now so our lease goes to the next client.
    swarm.on('complete', () => this.announceNow())
  }

  private subnetOf(ip: string): string {
    const known = this.subnetIndex.lookup(ip)
    if (known !== undefined) return known
    // Outside every configured subnet: its /24 gets the tracker's rate for such addresses.
    const s = slash24(ip)
    if (this.init.role === 'dp' && this.budgetLimits.rateOf('subnet', s) !== this.unassignedRate) this.budgetLimits.setRate('subnet', s, this.unassignedRate)
    return s
  }

  private applyBudgets(b: BudgetList): void {
    if (b.version === this.budgetVersion) return
    this.budgetVersion = b.version
    const entries: Array<[NonNullable<ReturnType<typeof parseCidr>>, string]> = []
    for (const s of b.subnets) {
      const cidr = parseCidr(s.subnet)
      if (cidr === undefined) continue
      entries.push([cidr, cidr.text])
      this.budgetLimits.setRate('subnet', cidr.text, s.rateBytesPerSec ?? UNLIMITED)
    }
    this.subnetIndex = new SubnetIndex(entries)
    this.unassignedRate = b.unassignedRateBytesPerSec ?? UNLIMITED
    // A tracker older than replication sends neither.
    const links = b.links ?? []
    this.linkParents = new Map(links.map((l) => [l.site, l.parent]))
    for (const l of links) this.linkLimits.setRate('site', l.site, l.rateBytesPerSec ?? UNLIMITED)
    this.dpSites = new Map((b.dps ?? []).map((d) => [d.peerId, d.site]))
    this.log.info({ version: b.version }, 'budgets applied')
    this.emit('budgets', b)
  }

  /** DP: long-polls the budgets so a window edge or an operator's change lands at once. */
  private async pollBudgets(): Promise<void> {
    const wait = this.init.budgetWaitSeconds ?? 25
    while (!this.stopped) {
      try {
        const budgets = await this.init.tracker.budgets(this.budgetVersion, wait, this.polling.signal)
        const changed = budgets.version !== this.budgetVersion
        this.applyBudgets(budgets)
        // The version also moves when the catalogue does: announce now for what to replicate.
        if (changed) this.announceNow()
      } catch (err) {
        if (this.stopped) return
        this.log.warn({ err: (err as Error).message }, 'budget poll failed')
        this.emit('warning', err as Error)
        await new Promise((r) => setTimeout(r, this.init.retryMs ?? 5000).unref())
      }
    }
  }
}
