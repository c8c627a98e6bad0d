/**
 * What inter-site replication is on the wire: the tracker tells each DP which packages its
 * site must hold and what each inter-site link may carry now; DPs report each package's
 * state in the announce they already make.
 */

/** A DP's state for one package it holds or is replicating. */
export const REPLICA_STATES = ['replicating', 'verifying', 'seeding', 'failed'] as const
export type ReplicaState = typeof REPLICA_STATES[number]

/** Sent by a DP with each package of its announce. */
export interface ReplicaReport {
  state: ReplicaState
  /** Bytes of the pieces present. */
  presentBytes: number
  totalBytes: number
  /** ISO 8601: when it last became whole and verified here; absent while never complete. */
  copiedAt?: string
  /** Why it failed, or what it waits for. */
  reason?: string
  /** `published`: seeded in place from `peerstage dp --publish` sources; `replicated`: pulled from other DPs. */
  origin: 'published' | 'replicated'
}

/** A package a DP's site must hold: it matches the site's `replicate` globs, or a site below it needs it (a DP relays). */
export interface ReplicaOffer {
  id: string
  name: string
  version: string
}

/** One inter-site link: what the parent site's DPs may send to this site's DPs now. */
export interface LinkBudget {
  /** The site at the far end of the link. */
  site: string
  parent: string
  /** Bytes/s; null = unlimited, 0 = closed. */
  rateBytesPerSec: number | null
}

/** A registered DP, so other DPs can tell replication (by link) from a client pull (by subnet budget). */
export interface KnownDp {
  peerId: string
  site: string | null
}

/** A package in the tracker's catalogue: what DPs replicate. */
export interface CataloguePackage {
  id: string
  name: string
  version: string
  publisher: string
  /** Total bytes of its files. */
  bytes: number
  /** ISO 8601. */
  addedAt: string
}

/** One DP's standing for one package, as `peerstage status --packages` shows it. */
export interface DpPackageStatus {
  peerId: string
  subnet: string
  /** `missing`: the site must hold it and this DP does not report it. */
  state: ReplicaState | 'missing'
  presentBytes: number
  totalBytes: number
  copiedAt: string | null
  reason: string | null
  origin: 'published' | 'replicated' | null
}

/** `GET /v1/packages/status`: per package, per site that must hold it (or where a DP has it), per DP. */
export interface PackageStatus {
  time: string
  packages: Array<{
    id: string
    name: string
    version: string
    bytes: number
    /** In the catalogue (false: only some DP reports it, e.g. published but never added). */
    listed: boolean
    sites: Array<{
      site: string
      parent: string | null
      /** Whether the site's replicate globs (or a site below) make it hold the package. */
      required: boolean
      dps: DpPackageStatus[]
    }>
  }>
}
