/**
 * The limits a node and the tracker agree on. The tracker's request schemas (schemas.ts)
 * refuse what breaks one with PEERSTAGE_TRACKER_BAD_REQUEST (HTTP 400), or the body limit
 * with HTTP 413; a node keeps within them before it sends, rather than restating a number.
 */

/**
 * Packages in one announce. A DP announces every package it holds or replicates, and must
 * be able to hold 1,000 (issue 16); 4096 leaves room above that. A DP's entry is ~340 bytes
 * of JSON with its replica state (a client's ~180), so 4096 of them, each with a full
 * `reason` and uploads to 16 subnets, stay under MAX_ANNOUNCE_BODY_BYTES.
 */
export const MAX_ANNOUNCE_PACKAGES = 4096

/** Listen addresses in one announce. */
export const MAX_ANNOUNCE_ADDRESSES = 16

/** Characters of one listen address (a multiaddr with its /p2p/ part). */
export const MAX_ADDRESS_CHARS = 256

/** Deployment reports in one client announce. */
export const MAX_ANNOUNCE_DEPLOYMENTS = 64

/** Destination subnets a DP reports uploads to, per package. */
export const MAX_UPLOADED_SUBNETS = 4096

/** Characters of a `reason` (why a deployment or a replica failed, or what it waits for). */
export const MAX_REASON_CHARS = 512

/** Characters of a deployment report's `logTail` (the program's last output). */
export const MAX_LOG_TAIL_CHARS = 4096

/**
 * Bytes of one announce body. 4096 DP entries at ~340 bytes, each with a 512-character
 * reason and uploads to 16 subnets (~28 bytes each), are ~5.3 MB: 8 MiB holds them.
 * (It was 1 MiB while the package cap was 256.)
 */
export const MAX_ANNOUNCE_BODY_BYTES = 8 * 1024 * 1024

/** Manifests of big packages run to several MB: the body limit of creating a deployment or listing a package. */
export const DEPLOYMENT_BODY_LIMIT = 64 * 1024 * 1024

/** A deployment id: `d-` and 8 hex digits. */
export const DEPLOYMENT_ID_PATTERN = '^d-[0-9a-f]{8}$'
export const DEPLOYMENT_ID = new RegExp(DEPLOYMENT_ID_PATTERN)

/** A package id: the SHA-256 of its canonical manifest, lowercase hex. */
export const PACKAGE_ID_PATTERN = '^[0-9a-f]{64}$'

/** A libp2p peer id: base58btc, at most MAX_PEER_ID_CHARS. */
export const PEER_ID_PATTERN = '^[1-9A-HJ-NP-Za-km-z]+$'
export const MAX_PEER_ID_CHARS = 128

/** A deployment's jitter: at most a week. */
export const MAX_JITTER_SECONDS = 7 * 24 * 3600

/** Characters of a node's name (`--name`, default the host name: a DNS name runs to 253). */
export const MAX_NODE_NAME_CHARS = 253
/** A node's name: printable, no white space, so it stays one word in `status` and `deploy show`. */
export const NODE_NAME_PATTERN = '^[^\\s\\u0000-\\u001f\\u007f]+$'
export const NODE_NAME = new RegExp(NODE_NAME_PATTERN)

/** Characters of the peerstage version a node announces (`0.1.0`, `1.2.0-rc.1+build.5`). */
export const MAX_VERSION_CHARS = 64

/** A node's problem code: one of the stable `PEERSTAGE_*` codes. */
export const PROBLEM_CODE_PATTERN = '^PEERSTAGE_[A-Z0-9_]{1,64}$'

/** Nodes `status` lists per subnet: those with a problem first, then offline, then the rest. */
export const MAX_STATUS_NODES_PER_SUBNET = 256
