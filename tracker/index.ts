/**
 * tracker: the control plane. Places every node in its site and subnet by the source
 * address of its announce, hands out peers nearest first, grants WAN leases (at most
 * `maxWanClients` per subnet and package, the subnet's budget split between them), keeps
 * per-subnet budgets following their windows and tells DPs (long-polled, so a change
 * reaches them at once), and counts the WAN bytes each subnet cost. Holds deployments
 * (a signed package from a trusted publisher, a program, targets and times), hands each
 * client those that target it, and gathers the clients' reports per site and subnet.
 * Keeps the catalogue of packages DPs replicate down the site tree (a site's `parent`,
 * `link` windows and `replicate` globs), tells each DP what its site must hold, hands DPs
 * only their own site's and parent site's DPs, and shows every replica's state.
 * HTTP/JSON on fastify; state behind one store interface (level by default).
 */
export { createTrackerConfig, readTrackerConfig, type TrackerConfig, type TrackerConfigOptions, type SiteConfig, type DpConfig, type WanPolicy } from './config.ts'
export { parseCidr, cidrContains, cidrsOverlap, slash24, SubnetIndex, type Cidr } from './cidr.ts'
export { Budgets, type OverrideSpec, type BudgetNow, type LinkNow, type Placement } from './budgets.ts'
export { Tracker, type TrackerComponents, type AnnounceRequest, type AnnounceAnswer, type BudgetList, type SubnetBudget, type LeaseGrant, type ReportedBytes } from './tracker.ts'
export type { HandedPeer, Tier, Registration } from './registry.ts'
export { globMatcher, ReplicaPlan, SiteTree } from './replication.ts'
export { PackageCatalogue } from './packages.ts'
export { DEPLOYMENT_STATES, FINAL_STATES, type Deployment, type DeploymentOffer, type DeploymentReport, type DeploymentState, type Target } from './deployment-types.ts'
export { parseIsoTime, MAX_JITTER_SECONDS, type DeploymentInput } from './deployment-input.ts'
export type { DeploymentStatus, SubnetProgress, ClientProgress, StateCounts, StoredReport } from './deployments.ts'
export { REPLICA_STATES, type ReplicaState, type ReplicaReport, type ReplicaOffer, type LinkBudget, type KnownDp, type CataloguePackage, type DpPackageStatus, type PackageStatus } from './replication-types.ts'
export { createTrackerServer, type TrackerServerInit } from './server.ts'
export { createTrackerMetrics, type TrackerMetrics } from './metrics.ts'
export { TrackerClient, type TrackerClientInit, type Scope } from './client.ts'
export { announcePayload, MAX_SIGNATURE_SKEW_MS, SIGNATURE_HEADER, type AnnounceSigner } from './node-auth.ts'
export { AnnounceVerifier } from './announce-verifier.ts'
export { TrackerErrorCodes, type TrackerErrorCode } from './errors.ts'
export { MemoryTrackerStore, LevelTrackerStore, type TrackerStore, type StoreOp, type StoreKind } from './store/index.ts'
