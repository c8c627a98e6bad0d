/**
 * What a deployment is on the wire: the tracker hands clients their deployments in the
 * announce answer, and clients report their state per deployment in the announce request;
 * an admin creates one with a DeploymentInput and reads its DeploymentStatus.
 */
import type { NodeSummary } from './nodes.ts'

/** A client's state for one deployment, in the order it normally goes through them. */
export const DEPLOYMENT_STATES = ['waiting', 'downloading', 'verified', 'running', 'succeeded', 'failed', 'cancelled', 'expired'] as const
export type DeploymentState = typeof DEPLOYMENT_STATES[number]

/** States after which a client does nothing more for the deployment. */
export const FINAL_STATES: ReadonlySet<DeploymentState> = new Set(['succeeded', 'failed', 'cancelled', 'expired'])

/** A deployment's program timeout: at most a week (an OS install may take hours, not weeks). */
export const MAX_PROGRAM_TIMEOUT_SECONDS = 7 * 24 * 3600

/** A target: `site:NAME`, `subnet:CIDR` (any address inside it) or `client:PEERID`. */
export type Target = string

/** A deployment as the tracker stores it and `deploy list|show` print it. */
export interface Deployment {
  id: string
  packageId: string
  name: string
  version: string
  /** A program of the manifest, by name. */
  program: string
  targets: Target[]
  /** ISO 8601: pre-staging may start (plus each client's jitter). */
  availableAt: string
  /** ISO 8601: the program runs. */
  mandatoryAt: string
  /** ISO 8601: not run after this; null = never expires. */
  expiresAt: string | null
  /** Each client starts pre-staging at availableAt + a delay in [0, jitterSeconds), fixed per client. */
  jitterSeconds: number
  /**
   * A program still running this long after its start is ended (its whole process group:
   * SIGTERM, then SIGKILL) and the deployment fails with reason `timeout`. Absent = no timeout
   * (deployments made before it existed, and the default).
   */
  timeoutSeconds?: number
  createdAt: string
  /** ISO 8601 when cancelled, else null. */
  cancelledAt: string | null
}

/** What a targeted client gets in its announce answer (cancelled and expired ones are left out). */
export type DeploymentOffer = Pick<Deployment, 'id' | 'packageId' | 'name' | 'version' | 'program' | 'availableAt' | 'mandatoryAt' | 'expiresAt' | 'jitterSeconds' | 'timeoutSeconds'>

/** A client's report for one deployment, sent with every announce. */
export interface DeploymentReport {
  id: string
  state: DeploymentState
  /** Share of the package's bytes on disk, 0..1. */
  progress: number
  /** Why it failed, or what it waits for (e.g. disk space). */
  reason?: string
  /** The program's exit code once it ran; null if it was killed by a signal. */
  exitCode?: number | null
  /** The last ≤ 2 KiB of the program's output. */
  logTail?: string
  /** Package bytes received over the LAN, over the WAN, and copied from chunks already on disk. */
  bytes: { lan: number, wan: number, reused: number }
  /** Times a check of the package on disk found bad chunks (cumulative). */
  verifyFailures: number
  /** ISO 8601 of the last state change. */
  updatedAt: string
}

/** What `POST /v1/deployments` takes: the signed manifest's text and when to run which program where. */
export interface DeploymentInput {
  /** The signed manifest as `peerstage pack` wrote it. */
  manifest: string
  program: string
  /** `site:NAME`, `subnet:CIDR` or `client:PEERID`; at least one. */
  targets: Target[]
  /** ISO 8601 with a zone. */
  availableAt: string
  mandatoryAt: string
  expiresAt?: string | null
  /** @default 0; at most MAX_JITTER_SECONDS (a week). */
  jitterSeconds?: number
  /** End the program if it runs longer: 1..MAX_PROGRAM_TIMEOUT_SECONDS. @default none */
  timeoutSeconds?: number
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/

/** Milliseconds of an ISO 8601 time with a zone (`2026-11-27T20:00:00+00:00`, `…Z`); undefined otherwise. */
export function parseIsoTime(text: string): number | undefined {
  if (!ISO_TIME.test(text)) return undefined
  // Date.parse takes 2026-02-30 for March 2nd: the calendar date must exist as written.
  const [y, mo, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number]
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d || mo < 1 || mo > 12) return undefined
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? undefined : ms
}

/** Clients per state; states no client is in are left out. */
export type StateCounts = Partial<Record<DeploymentState, number>>

/**
 * One client's latest report, and the node itself as the tracker knows it now: name,
 * address, version, online or offline since when, and any problem it reports (a tracker
 * older than `node` sends none; a client it no longer remembers has none).
 */
export type ClientProgress = Omit<DeploymentReport, 'id'> & { peerId: string, node?: NodeSummary }

export interface SubnetProgress {
  subnet: string
  counts: StateCounts
  /** Sums of the clients' reported package bytes. */
  bytes: { lan: number, wan: number, reused: number }
  /** What DPs reported sending this subnet for the deployment's package. */
  dpUploadBytes: number
  clients: ClientProgress[]
}

/** `GET /v1/deployments/:id/status`: the deployment and its clients' states per site and subnet. */
export interface DeploymentStatus {
  deployment: Deployment
  counts: StateCounts
  /** Configured sites with a subnet the deployment targets or a client reported from. */
  sites: Array<{ name: string, subnets: SubnetProgress[] }>
  /** Subnets outside every site that clients reported from. */
  unassigned: SubnetProgress[]
}
