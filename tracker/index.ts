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
 *
 * What a node and the tracker agree on (wire shapes, schemas, limits, placement, the
 * signed announce, TrackerClient, error codes) is tracker/protocol/, re-exported here whole.
 */
export * from './protocol/index.ts'
export { createTrackerConfig, readTrackerConfig, storeUrl, type TrackerConfig, type TrackerConfigOptions, type SiteConfig, type DpConfig, type WanPolicy } from './config.ts'
export { Budgets, type OverrideSpec, type BudgetNow, type LinkNow } from './budgets.ts'
export { Tracker, type TrackerComponents } from './tracker.ts'
export type { Registration } from './registry.ts'
export { globMatcher, ReplicaPlan, SiteTree } from './replication.ts'
export { PackageCatalogue } from './packages.ts'
export type { StoredReport } from './deployments.ts'
export { createTrackerServer, type TrackerServerInit } from './server.ts'
export { readTlsPair, sameToken, type TlsFiles, type TlsPair } from './secrets.ts'
export { TlsReloader, type TlsReloaderInit } from './tls-reload.ts'
export { createTrackerMetrics, type TrackerMetrics } from './metrics.ts'
export { AnnounceVerifier } from './announce-verifier.ts'
export { MemoryTrackerStore, LevelTrackerStore, RedisTrackerStore, shownRedisUrl, readBackup, restoreBackup, BACKUP_FORMAT, TRACKER_STORE_FORMAT, type BackupHeader, type RestoreResult, type StoredRecord, type RedisStoreInit, type TrackerStore, type StoreOp, type StoreKind, type SharedStore, type StoreSnapshot, type WrittenBatch } from './store/index.ts'
