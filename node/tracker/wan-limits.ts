import { BandwidthHierarchy, LimiterChain, TokenBucket, UNLIMITED, type Limiter } from '../../bandwidth/index.ts'
import { parseCidr, slash24, SubnetIndex, type AnnounceAnswer, type BudgetList } from '../../tracker/protocol/index.ts'
import type { PackageSwarm, PeerInfo } from '../swarm.ts'
import { MAX_BLOCK_BYTES } from '../wire/index.ts'

/** Tiers of peers the tracker hands out from beyond our site: reaching them crosses the WAN. */
const WAN_TIERS = new Set(['dp', 'upstream-dp', 'remote-dp', 'parent-dp'])
/** Buckets hold four of the largest blocks: smaller ones lose rate to timer lateness (DESIGN, Bandwidth). */
const BUCKET_BYTES = 4 * MAX_BLOCK_BYTES

export interface WanLimitsInit {
  role: 'client' | 'dp'
  /** DP: uploads pass the tracker's per-subnet and per-link budgets (off for a DP without a tracker). @default true */
  budgets?: boolean
  /** DP: a cap per destination /24 on top of the tracker's budgets (`--upload-limit`), bytes/s. */
  uploadCapBytesPerSec?: number
}

/** What a PeerNode asks, per peer, to keep the WAN rules. */
export interface PeerLimits {
  isWanPeer: (p: PeerInfo) => boolean
  downloadLimiterFor: (p: PeerInfo, packageId: string) => Limiter | undefined
  uploadLimiterFor: (p: PeerInfo) => Limiter | undefined
}

/**
 * The tracker's WAN rules as the node keeps them. A client asks peers across the WAN only
 * under a lease, per package, paced to its rate; a DP keeps an upload bucket per
 * destination subnet at the tracker's budget, and one per inter-site link for the DPs of
 * the sites below it (and paces its own replication to its link). Given to the node at
 * construction (`peerLimits`); the announcer feeds it each answer and budget list.
 */
export class WanLimits {
  private readonly init: WanLimitsInit
  private readonly wanPeers = new Set<string>()
  /** Client: per package, the WAN requests pass its lease's bucket (rate 0 without a lease). */
  private readonly leaseBuckets = new Map<string, TokenBucket>()
  /** DP: per destination subnet, at the tracker's budgets. */
  private readonly budgetLimits = new BandwidthHierarchy({ capacityBytes: BUCKET_BYTES })
  /** DP: per inter-site link, named by the site at its far end, at the link's rate now. */
  private readonly linkLimits = new BandwidthHierarchy({ capacityBytes: BUCKET_BYTES })
  /** DP, `--upload-limit`: per destination /24. */
  private readonly capLimits = new BandwidthHierarchy()
  /** DP: each site's parent, for the sites with a link. */
  private linkParents = new Map<string, string>()
  /** DP: the registered DPs and their sites: uploads to them go by link, not by subnet budget. */
  private dpSites = new Map<string, string | null>()
  /** Our site, as the tracker placed us. */
  private site: string | null = null
  private subnetIndex = new SubnetIndex<string>([])
  /** Client: its site's subnets as the tracker last said (undefined: no word yet, or no tracker). */
  private ownSite: SubnetIndex<true> | undefined
  /** Client: uploads to a peer of another site never get a token (see followSite). */
  private readonly offSite = new TokenBucket({ rateBytesPerSec: 0, capacityBytes: BUCKET_BYTES })
  private unassignedRate = UNLIMITED
  private budgetVersion = 0

  constructor(init: WanLimitsInit) {
    this.init = init
  }

  /** What PeerNode.start needs to apply the tracker's rules. */
  get peerLimits(): PeerLimits {
    return {
      isWanPeer: (p) => this.isWanPeer(p.id),
      downloadLimiterFor: (p, packageId) => {
        if (!this.wanPeers.has(p.id)) return undefined
        // A client pulls a package across the WAN at its lease's rate; a DP replicates from its parent's DPs at the link's.
        return this.init.role === 'client' ? this.leaseBucketOf(packageId) : this.site === null ? undefined : this.linkLimits.limiterFor({ site: this.site })
      },
      uploadLimiterFor: (p) => {
        if (this.init.role === 'client' && this.ownSite !== undefined && this.ownSite.lookup(p.ip) === undefined) return this.offSite
        const budget = this.init.role === 'dp' && this.init.budgets !== false ? this.uploadBudgetTo(p) : undefined
        const cap = this.uploadCapTo(p)
        return cap === undefined ? budget : budget === undefined ? cap : new LimiterChain([budget, cap])
      },
    }
  }

  /**
   * Client: the subnets of its site, from the tracker's answer. Uploads to a peer outside
   * them wait forever (the peer gives up on its requests): a node of another site that
   * dials a client directly would pull across the WAN with no lease and no budget.
   */
  followSite(siteSubnets: readonly string[] | undefined): void {
    if (this.init.role !== 'client' || siteSubnets === undefined) return
    const cidrs = siteSubnets.flatMap((text) => parseCidr(text) ?? [])
    this.ownSite = cidrs.length === 0 ? undefined : new SubnetIndex(cidrs.map((c) => [c, true]))
  }

  isWanPeer(peerId: string): boolean {
    return this.wanPeers.has(peerId)
  }

  /** The budgets' version applied last (0: none yet). */
  get version(): number {
    return this.budgetVersion
  }

  /** DP: the rate of the link into `site` now, bytes/s. */
  linkRateOf(site: string): number {
    return this.linkLimits.rateOf('site', site)
  }

  /** The current upload budget toward a subnet (DP), bytes/s. */
  uploadRateTo(ip: string): number {
    return this.budgetLimits.rateOf('subnet', this.subnetOf(ip))
  }

  /** Client: the sum of its leases' rates, bytes/s. */
  get leaseRateBytesPerSec(): number {
    let sum = 0
    for (const b of this.leaseBuckets.values()) sum += b.rateBytesPerSec
    return sum
  }

  /** The subnet the tracker's budgets put `ip` in; outside all of them, its /24. */
  subnetOf(ip: string): string {
    const known = this.subnetIndex.lookup(ip)
    if (known !== undefined) return known
    // Outside every configured subnet: its /24 gets the tracker's rate for such addresses.
    const s = slash24(ip)
    if (this.init.role === 'dp' && this.budgetLimits.rateOf('subnet', s) !== this.unassignedRate) this.budgetLimits.setRate('subnet', s, this.unassignedRate)
    return s
  }

  /**
   * Follows one announce answer for a package we swarm: notes which peers are across the
   * WAN; a client sets its lease's rate and WAN share, and stops asking WAN peers while it
   * holds no lease (the blocks already asked for still land).
   */
  followAnswer(pa: AnnounceAnswer['packages'][number], swarm: PackageSwarm, site: string | null): void {
    this.site = site
    for (const p of pa.peers) if (WAN_TIERS.has(p.tier)) this.wanPeers.add(p.peerId)
    if (this.init.role !== 'client') return
    this.leaseBucketOf(pa.id).setRate(pa.lease === null ? 0 : pa.lease.rateBytesPerSec ?? UNLIMITED)
    // A tracker older than shares sends none.
    if (pa.lease?.share !== undefined) swarm.setWanShare(pa.lease.share)
    for (const id of this.wanPeers) {
      if (pa.lease === null) swarm.retirePeer(id, 'no WAN lease')
      else swarm.keepPeer(id)
    }
  }

  /**
   * Client, when no tracker answers: no WAN without a lease it could renew, so every lease
   * goes to rate 0 and the WAN peers are retired (their blocks under way still land). The
   * next answer restores what the tracker grants.
   */
  withdrawLeases(swarms: Iterable<PackageSwarm>): void {
    if (this.init.role !== 'client') return
    for (const b of this.leaseBuckets.values()) b.setRate(0)
    for (const swarm of swarms) for (const id of this.wanPeers) swarm.retirePeer(id, 'no tracker answers')
  }

  /** Applies a budget list newer than the last; false when it is not. */
  applyBudgets(b: BudgetList): boolean {
    if (b.version === this.budgetVersion) return false
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
    return true
  }

  private leaseBucketOf(packageId: string): TokenBucket {
    let b = this.leaseBuckets.get(packageId)
    if (b === undefined) this.leaseBuckets.set(packageId, b = new TokenBucket({ rateBytesPerSec: 0, capacityBytes: BUCKET_BYTES }))
    return b
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

  /** `--upload-limit`: the cap toward `p`'s /24, whatever the tracker says. */
  private uploadCapTo(p: PeerInfo): Limiter | undefined {
    const cap = this.init.uploadCapBytesPerSec
    if (cap === undefined) return undefined
    const subnet = slash24(p.ip)
    if (this.capLimits.rateOf('subnet', subnet) !== cap) this.capLimits.setRate('subnet', subnet, cap)
    return this.capLimits.limiterFor({ subnet })
  }
}
