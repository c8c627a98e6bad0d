/**
 * The announce on the wire: what a node sends every interval and what the tracker answers
 * (peers, leases; DPs also budgets, links, the known DPs and what to replicate).
 */
import type { DeploymentOffer, DeploymentReport } from './deployment.ts'
import type { NodeProblem } from './nodes.ts'
import type { KnownDp, LinkBudget, ReplicaOffer, ReplicaReport } from './replication.ts'

/**
 * How near a handed-out peer is: `subnet` and `site` are LAN; `dp` a DP serving the
 * asker's site; `upstream-dp` a DP of an ancestor site (parent first); `remote-dp` any
 * other DP; `parent-dp` (to DPs only) a DP of the parent site to replicate from.
 */
export const TIERS = ['subnet', 'site', 'dp', 'upstream-dp', 'remote-dp', 'parent-dp'] as const
export type Tier = typeof TIERS[number]

/** Tiers handed out from the asker's own site: every other one is across the WAN. */
export const LAN_TIERS: ReadonlySet<Tier> = new Set(['subnet', 'site'])

/** A peer the tracker hands out for a package, nearest tier first. */
export interface HandedPeer {
  peerId: string
  addresses: string[]
  tier: Tier
  have: number
  pieces: number
}

/** Byte counters a node reports per package, cumulative since it started. */
export interface ReportedBytes {
  /** Received from peers of the same site. */
  lan?: number
  /** Received from DPs and other peers across the WAN. */
  wan?: number
  /** Copied from chunks already on the node. */
  reused?: number
}

export interface AnnounceRequest {
  peerId: string
  role: 'client' | 'dp'
  /** What people call the node (`--name`, default its host name); nodes older than it send none. */
  name?: string
  /** The peerstage version it runs (package.json), so a mixed-version estate shows. */
  version?: string
  /** What keeps it from its work now (peers it cannot join, a full disk); absent when nothing does. */
  problem?: NodeProblem
  addresses: string[]
  packages: Array<{
    id: string
    have: number
    pieces: number
    bytes?: ReportedBytes
    /** DPs: bytes uploaded per destination subnet, cumulative. */
    uploaded?: Record<string, number>
    /** DPs: the package's replication state here. */
    replica?: ReplicaReport
  }>
  /** `stopped`: the node is shutting down; its leases move on now. */
  event?: 'stopped'
  /** Clients: their state for each deployment they hold. */
  deployments?: DeploymentReport[]
}

export interface LeaseGrant {
  /** Bytes/s, null = unlimited. */
  rateBytesPerSec: number | null
  expiresAt: string
  /**
   * This holder's place among the subnet's lease holders of the package: it pulls the
   * index-th of `of` runs of pieces across the WAN first, so holders do not pull the same bytes.
   */
  share: { index: number, of: number }
}

/** The `rule` of a budget or a link that no window and no default decides: it is unlimited. */
export const NO_RULE = 'unlimited (no rule)'

export interface SubnetBudget {
  subnet: string
  site: string | undefined
  /** Bytes/s this subnet may pull across the WAN now; null = unlimited. */
  rateBytesPerSec: number | null
}

export interface BudgetList {
  version: number
  /** Every configured subnet; the asking DP's own site's are null (LAN, not WAN). */
  subnets: SubnetBudget[]
  /** For addresses in no configured subnet, per /24. */
  unassignedRateBytesPerSec: number | null
  /** Every site with a parent: what its parent's DPs may send its DPs now. */
  links: LinkBudget[]
  /** Registered DPs: uploads to them go by link, not by subnet budget. */
  dps: KnownDp[]
}

export interface AnnounceAnswer {
  /**
   * The tracker's clock when it answered, ms since the epoch: nodes time deployments by it
   * and sign by it (a tracker older than this field sends none). A refusal of a signature's
   * time (STALE_SIGNATURE) carries it too, as `error.now`.
   */
  now?: number
  subnet: string
  site: string | null
  intervalSeconds: number
  packages: Array<{ id: string, peers: HandedPeer[], lease: LeaseGrant | null }>
  /**
   * Clients: the subnets of their own site (their own subnet alone when it is in no site).
   * A client serves no peer outside them: bytes to another site cross the WAN, which only
   * DPs feed, inside budgets (a tracker older than this field sends none).
   */
  siteSubnets?: string[]
  /** DPs only. */
  budgets?: BudgetList
  /** Clients: every deployment that targets them, neither cancelled nor expired. DPs: none. */
  deployments: DeploymentOffer[]
  /** DPs only: the catalogue packages this DP's site must hold. */
  replicate?: ReplicaOffer[]
}
