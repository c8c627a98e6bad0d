/** JSON schemas of the tracker's HTTP API: every request is checked against one before it is used. */
import { DEPLOYMENT_STATES } from './deployment.ts'
import { MAX_PROGRAM_TIMEOUT_SECONDS } from './deployment.ts'
import { DEPLOYMENT_ID_PATTERN, MAX_NODE_NAME_CHARS, MAX_VERSION_CHARS, NODE_NAME_PATTERN, PROBLEM_CODE_PATTERN, MAX_ADDRESS_CHARS, MAX_ANNOUNCE_ADDRESSES, MAX_ANNOUNCE_DEPLOYMENTS, MAX_ANNOUNCE_PACKAGES, MAX_JITTER_SECONDS, MAX_LOG_TAIL_CHARS, MAX_PEER_ID_CHARS, MAX_REASON_CHARS, MAX_UPLOADED_SUBNETS, PACKAGE_ID_PATTERN, PEER_ID_PATTERN } from './limits.ts'
import { REPLICA_STATES } from './replication.ts'

const counter = { type: 'number', minimum: 0 } as const
const deploymentId = { type: 'string', pattern: DEPLOYMENT_ID_PATTERN } as const
const packageId = { type: 'string', pattern: PACKAGE_ID_PATTERN } as const
const reason = { type: 'string', maxLength: MAX_REASON_CHARS } as const
const time = { type: 'string', minLength: 1, maxLength: 64 } as const
/** A libp2p peer id: base58btc. */
const peerId = { type: 'string', minLength: 1, maxLength: MAX_PEER_ID_CHARS, pattern: PEER_ID_PATTERN } as const

/** A client's report for one deployment (DeploymentReport). */
const deploymentReport = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'state', 'progress', 'bytes', 'verifyFailures', 'updatedAt'],
  properties: {
    id: deploymentId,
    state: { enum: DEPLOYMENT_STATES },
    progress: { type: 'number', minimum: 0, maximum: 1 },
    reason,
    exitCode: { type: ['integer', 'null'] },
    logTail: { type: 'string', maxLength: MAX_LOG_TAIL_CHARS },
    bytes: { type: 'object', additionalProperties: false, required: ['lan', 'wan', 'reused'], properties: { lan: counter, wan: counter, reused: counter } },
    verifyFailures: { type: 'integer', minimum: 0 },
    updatedAt: time,
  },
} as const

/** A DP's replication state for one package (ReplicaReport). */
const replicaReport = {
  type: 'object',
  additionalProperties: false,
  required: ['state', 'presentBytes', 'totalBytes', 'origin'],
  properties: {
    state: { enum: REPLICA_STATES },
    presentBytes: { type: 'integer', minimum: 0 },
    totalBytes: { type: 'integer', minimum: 0 },
    copiedAt: time,
    reason,
    origin: { enum: ['published', 'replicated'] },
  },
} as const

/** What keeps a node from its work (NodeProblem). */
const nodeProblem = {
  type: 'object',
  additionalProperties: false,
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', pattern: PROBLEM_CODE_PATTERN },
    message: { type: 'string', minLength: 1, maxLength: MAX_REASON_CHARS },
    since: time,
  },
} as const

export const announceBody = {
  type: 'object',
  additionalProperties: false,
  required: ['peerId', 'role', 'addresses', 'packages'],
  properties: {
    peerId,
    role: { enum: ['client', 'dp'] },
    // Optional: a node older than them sends none and is still served.
    name: { type: 'string', minLength: 1, maxLength: MAX_NODE_NAME_CHARS, pattern: NODE_NAME_PATTERN },
    version: { type: 'string', minLength: 1, maxLength: MAX_VERSION_CHARS },
    problem: nodeProblem,
    addresses: { type: 'array', maxItems: MAX_ANNOUNCE_ADDRESSES, items: { type: 'string', minLength: 1, maxLength: MAX_ADDRESS_CHARS, pattern: '^/' } },
    packages: {
      type: 'array',
      maxItems: MAX_ANNOUNCE_PACKAGES,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'have', 'pieces'],
        properties: {
          id: packageId,
          have: { type: 'integer', minimum: 0 },
          pieces: { type: 'integer', minimum: 1 },
          bytes: { type: 'object', additionalProperties: false, properties: { lan: counter, wan: counter, reused: counter } },
          uploaded: { type: 'object', maxProperties: MAX_UPLOADED_SUBNETS, propertyNames: { maxLength: 18 }, additionalProperties: counter },
          replica: replicaReport,
        },
      },
    },
    event: { enum: ['stopped'] },
    deployments: { type: 'array', maxItems: MAX_ANNOUNCE_DEPLOYMENTS, items: deploymentReport },
  },
} as const

export const budgetsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'integer', minimum: 0 },
    waitSeconds: { type: 'integer', minimum: 0, maximum: 60 },
  },
} as const

/** GET /v1/changes: a node's long-poll for changes that concern it. */
export const changesQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['peer', 'after'],
  properties: {
    peer: peerId,
    after: { type: 'integer', minimum: 0 },
    waitSeconds: { type: 'integer', minimum: 0, maximum: 60 },
  },
} as const

export const changesAnswer = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'changed'],
  properties: {
    version: { type: 'integer', minimum: 0 },
    changed: { type: 'boolean' },
  },
} as const

export const scopeQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    site: { type: 'string', minLength: 1, maxLength: 64 },
    subnet: { type: 'string', minLength: 1, maxLength: 18 },
  },
} as const

export const throttleBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    site: { type: 'string', minLength: 1, maxLength: 64 },
    subnet: { type: 'string', minLength: 1, maxLength: 18 },
    timezone: { type: 'string', minLength: 1, maxLength: 64 },
    default: { type: 'string', minLength: 1, maxLength: 32 },
    // A rule string or its structured form {days, from, to, rate}; parseWindow checks the fields, as for the config.
    windows: { type: 'array', maxItems: 64, items: { anyOf: [{ type: 'string', minLength: 1, maxLength: 128 }, { type: 'object', maxProperties: 8 }] } },
    maxWanClients: { type: 'integer', minimum: 0, maximum: 10000 },
  },
} as const

const rate = { type: ['number', 'null'] } as const

const budgetList = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    subnets: { type: 'array', items: { type: 'object', properties: { subnet: { type: 'string' }, site: { type: 'string' }, rateBytesPerSec: rate } } },
    unassignedRateBytesPerSec: rate,
    links: { type: 'array', items: { type: 'object', properties: { site: { type: 'string' }, parent: { type: 'string' }, rateBytesPerSec: rate } } },
    dps: { type: 'array', items: { type: 'object', properties: { peerId: { type: 'string' }, site: { type: ['string', 'null'] } } } },
  },
} as const

/** The announce answer (the hot path): its serializer writes all but the packages, which tracker/announce-json.ts writes. */
export const announceAnswer = {
  type: 'object',
  properties: {
    subnet: { type: 'string' },
    site: { type: ['string', 'null'] },
    intervalSeconds: { type: 'integer' },
    now: { type: 'integer' },
    siteSubnets: { type: 'array', items: { type: 'string' } },
    packages: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          peers: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                peerId: { type: 'string' },
                addresses: { type: 'array', items: { type: 'string' } },
                tier: { type: 'string' },
                have: { type: 'integer' },
                pieces: { type: 'integer' },
              },
            },
          },
          lease: { anyOf: [{ type: 'null' }, { type: 'object', properties: { rateBytesPerSec: rate, expiresAt: { type: 'string' }, share: { type: 'object', properties: { index: { type: 'integer' }, of: { type: 'integer' } } } } }] },
        },
      },
    },
    budgets: budgetList,
    deployments: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          packageId: { type: 'string' },
          name: { type: 'string' },
          version: { type: 'string' },
          program: { type: 'string' },
          availableAt: { type: 'string' },
          mandatoryAt: { type: 'string' },
          expiresAt: { type: ['string', 'null'] },
          jitterSeconds: { type: 'integer' },
          timeoutSeconds: { type: 'integer' },
        },
      },
    },
    replicate: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' } } } },
  },
} as const

export const budgetsAnswer = budgetList

export const createDeploymentBody = {
  type: 'object',
  additionalProperties: false,
  required: ['manifest', 'program', 'targets', 'availableAt', 'mandatoryAt'],
  properties: {
    manifest: { type: 'string', minLength: 1 },
    program: { type: 'string', minLength: 1, maxLength: 256 },
    targets: { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'string', minLength: 1, maxLength: 200 } },
    availableAt: time,
    mandatoryAt: time,
    expiresAt: { type: ['string', 'null'], minLength: 1, maxLength: 64 },
    jitterSeconds: { type: 'integer', minimum: 0, maximum: MAX_JITTER_SECONDS },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: MAX_PROGRAM_TIMEOUT_SECONDS },
  },
} as const

export const deploymentParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

export const manifestParams = {
  type: 'object',
  additionalProperties: false,
  required: ['packageId'],
  properties: { packageId },
} as const

/** `POST /v1/packages`: the signed manifest's text, as for a deployment (same body limit). */
export const addPackageBody = {
  type: 'object',
  additionalProperties: false,
  required: ['manifest'],
  properties: { manifest: { type: 'string', minLength: 1 } },
} as const

export const packageParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: packageId },
} as const

export const nodeParams = {
  type: 'object',
  additionalProperties: false,
  required: ['peerId'],
  properties: { peerId },
} as const
