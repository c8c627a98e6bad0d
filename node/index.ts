/**
 * node: the data plane. The libp2p host (TCP, noise bound to the swarm key, yamux,
 * identify, ping); the bulk channel beside it (TLS 1.3 keyed by one-use tickets handed over
 * on libp2p); the BitTorrent wire on a bulk socket or a libp2p stream (frame guard,
 * coalesced sends, backpressure); the store (files in place, level metadata, chunk index);
 * the picker and the per-package swarm (verify on arrival, strikes and bans); PeerNode tying them up;
 * the node's side of the tracker (tracker/: announcer, WAN limits, byte counts); the Stager
 * the client's deployments (client/) and a DP's replication (dp/) share.
 *
 * Roles are built in one place (service.ts): createDp, createClient, createFetcher make the
 * node, the tracker side and the role's work in one order from one checked config.
 */
export { createHost, dialPeer, loadOrCreateIdentity, parseMultiaddr, type Host, type HostInit } from './host.ts'
export { generateSwarmKeyFile, loadSwarmKey } from './swarm-key.ts'
export { NodeErrorCodes, type NodeErrorCode } from './errors.ts'
export * as wire from './wire/index.ts'
export * as bulk from './bulk/index.ts'
export { PeerNode, type PeerNodeInit } from './peer-node.ts'
export { PackageSwarm, type PeerInfo, type SwarmInit } from './swarm.ts'
export { NODE_STORE_FORMAT, piecesHolding, Store, StoredPackage, StoreErrorCodes } from './store/index.ts'
export { Stager, type StagerInit, type StageStart, type StageEnd } from './staging/index.ts'
export { createNodeMetrics, serveMetrics, type NodeMetrics } from './metrics.ts'
export { Announcer, ByteCounter, WanLimits, type AnnouncerInit, type AnnounceReports, type WanLimitsInit, type PeerLimits } from './tracker/index.ts'
export { createNodeConfig, type NodeInit, type DpInit, type ClientInit, type FetcherInit } from './config.ts'
export { createClient, createDp, createFetcher, type Client, type Dp, type NodeComponents, type NodeService } from './service.ts'
export { connectAll, FETCH_STALL_SECONDS, REPAIR_ROUNDS, StallWatch, verifyWithRepair } from './fetch-steps.ts'
export { Replicator, type ReplicatorInit, type ReplicaRecord } from './dp/index.ts'
export { DeploymentClient, type DeploymentClientInit, type DeploymentRecord } from './client/index.ts'
