/**
 * tracker/protocol: everything a node and the tracker must agree on, in one place both
 * import. The wire shapes of the announce (request and answer), of deployments and of
 * replication; the JSON schemas the tracker checks requests against; the limits those
 * schemas hold a node to (a node keeps within them, it never restates one); how an
 * address is placed in a subnet; the signed-announce format; the error codes; and
 * TrackerClient, what a node or the CLI talks to a tracker with.
 *
 * Loads no server: nothing here imports fastify, level, yaml, prom-client or a file of the
 * tracker outside this folder, only common/ and node built-ins
 * (test/tracker/no-import-cycles.test.ts fails otherwise).
 */
export {
  MAX_ANNOUNCE_PACKAGES, MAX_ANNOUNCE_ADDRESSES, MAX_ADDRESS_CHARS, MAX_ANNOUNCE_DEPLOYMENTS, MAX_UPLOADED_SUBNETS,
  MAX_REASON_CHARS, MAX_LOG_TAIL_CHARS, MAX_ANNOUNCE_BODY_BYTES, DEPLOYMENT_BODY_LIMIT,
  DEPLOYMENT_ID, DEPLOYMENT_ID_PATTERN, PACKAGE_ID_PATTERN, PEER_ID_PATTERN, MAX_PEER_ID_CHARS, MAX_JITTER_SECONDS,
  MAX_NODE_NAME_CHARS, NODE_NAME, NODE_NAME_PATTERN, MAX_VERSION_CHARS, PROBLEM_CODE_PATTERN, MAX_STATUS_NODES_PER_SUBNET,
} from './limits.ts'
export { type NodeProblem, type NodePresence, type NodeSummary } from './nodes.ts'
export { NO_RULE, TIERS, LAN_TIERS, type Tier, type HandedPeer, type AnnounceRequest, type AnnounceAnswer, type ReportedBytes, type LeaseGrant, type SubnetBudget, type BudgetList } from './announce.ts'
export {
  DEPLOYMENT_STATES, FINAL_STATES, MAX_PROGRAM_TIMEOUT_SECONDS, parseIsoTime,
  type Deployment, type DeploymentOffer, type DeploymentReport, type DeploymentState, type Target, type DeploymentInput,
  type DeploymentStatus, type SubnetProgress, type ClientProgress, type StateCounts,
} from './deployment.ts'
export { REPLICA_STATES, type ReplicaState, type ReplicaReport, type ReplicaOffer, type LinkBudget, type KnownDp, type CataloguePackage, type DpPackageStatus, type PackageStatus } from './replication.ts'
export {
  announceBody, announceAnswer, budgetsQuery, budgetsAnswer, changesQuery, changesAnswer, scopeQuery, throttleBody, createDeploymentBody,
  deploymentParams, manifestParams, addPackageBody, packageParams, nodeParams,
} from './schemas.ts'
export { parseCidr, cidrContains, cidrsOverlap, plainIpv4, slash24, placeAddress, SubnetIndex, type Cidr, type Placement } from './cidr.ts'
export { announcePayload, signatureHeader, MAX_SIGNATURE_SKEW_MS, SIGNATURE_HEADER, type AnnounceSigner } from './node-auth.ts'
export { TrackerErrorCodes, trackerError, type TrackerErrorCode } from './errors.ts'
export { TrackerClient, retryAfterMs, type TrackerClientInit, type Scope } from './client.ts'
