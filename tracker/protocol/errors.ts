import { defineErrorCodes, PeerstageError } from '../../common/index.ts'

/**
 * Stable codes of the tracker module and their classes (common/errors.ts); README lists them
 * all and a test keeps it so. Only UNREACHABLE, STORE_FAILED, STORE_UNAVAILABLE and RATE_LIMITED are transient: a node retries
 * those (RATE_LIMITED no sooner than its Retry-After); a refused token (UNAUTHORIZED) or request stays refused until someone changes it.
 */
export const TrackerErrorCodes = defineErrorCodes('tracker', {
  /** The tracker's YAML config is unreadable, not YAML, or breaks a rule (the message names the key). */
  BAD_CONFIG: { code: 'PEERSTAGE_TRACKER_BAD_CONFIG', class: 'usage' },
  /** An API request whose body or query breaks the schema (HTTP 400). */
  BAD_REQUEST: { code: 'PEERSTAGE_TRACKER_BAD_REQUEST', class: 'usage' },
  /** A missing or wrong bearer token (HTTP 401). */
  UNAUTHORIZED: { code: 'PEERSTAGE_TRACKER_UNAUTHORIZED', class: 'refused' },
  /** A site, subnet, deployment, package, manifest or route the tracker does not have (HTTP 404). */
  NOT_FOUND: { code: 'PEERSTAGE_TRACKER_NOT_FOUND', class: 'usage' },
  /** The tracker failed on a request it should have handled (HTTP 500): see its log. */
  INTERNAL: { code: 'PEERSTAGE_TRACKER_INTERNAL', class: 'failed' },
  /**
   * A deployment's manifest is unsigned, its signature does not match, its publisher is not
   * in the tracker's `trust` list, or the tracker trusts no publisher at all (HTTP 400).
   */
  UNTRUSTED_PACKAGE: { code: 'PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE', class: 'refused' },
  /**
   * A package cannot leave the catalogue while a deployment that is neither cancelled nor
   * expired names it: the message lists those deployments (HTTP 409).
   */
  PACKAGE_IN_USE: { code: 'PEERSTAGE_TRACKER_PACKAGE_IN_USE', class: 'refused' },
  /** An announce without a valid signature by the key of the peer id it names (HTTP 401). */
  BAD_SIGNATURE: { code: 'PEERSTAGE_TRACKER_BAD_SIGNATURE', class: 'refused' },
  /** An announce signed too far from the tracker's clock, or not later than that peer's last: a replay or a skewed clock (HTTP 401). */
  STALE_SIGNATURE: { code: 'PEERSTAGE_TRACKER_STALE_SIGNATURE', class: 'refused' },
  /**
   * A peer id announced from another subnet than the one it registered from: it stays bound
   * there until its registration expires or an admin releases it (HTTP 409).
   */
  PEER_BOUND: { code: 'PEERSTAGE_TRACKER_PEER_BOUND', class: 'refused' },
  /** `NAME@VERSION` is already bound to another package id: a version is immutable (HTTP 409). */
  VERSION_TAKEN: { code: 'PEERSTAGE_TRACKER_VERSION_TAKEN', class: 'refused' },
  /** The tracker could not write a change to its store: nothing changed; try again (HTTP 503). */
  STORE_FAILED: { code: 'PEERSTAGE_TRACKER_STORE_FAILED', class: 'transient' },
  /**
   * The shared store (Redis) does not answer, or not in time: nothing changed; the tracker
   * reconnects by itself, so try again (HTTP 503).
   */
  STORE_UNAVAILABLE: { code: 'PEERSTAGE_TRACKER_STORE_UNAVAILABLE', class: 'transient' },
  /**
   * The tracker's state directory (`--data`) cannot be used: held by another running
   * tracker, damaged, read-only, or not a directory. `details.problem` says which.
   */
  DATA_DIR: { code: 'PEERSTAGE_TRACKER_DATA_DIR', class: 'usage' },
  /**
   * The tracker's store holds a format this build does not read: written by a newer peerstage
   * (run that one, or restore a backup this one wrote), or an older format it cannot migrate.
   */
  STORE_FORMAT: { code: 'PEERSTAGE_TRACKER_STORE_FORMAT', class: 'usage' },
  /**
   * A file given to `tracker restore` is not a whole tracker backup (truncated, altered, not a
   * backup at all) or is of a backup format this build does not read; nothing was restored.
   */
  BAD_BACKUP: { code: 'PEERSTAGE_TRACKER_BAD_BACKUP', class: 'usage' },
  /**
   * The tracker's HTTPS certificate is not trusted: not signed by the CA given with
   * `--tracker-ca` (or, without it, by one in Node's default store), expired, or not made for the
   * host name or IP of the tracker URL. Nothing was sent, the token included.
   */
  UNTRUSTED_CERTIFICATE: { code: 'PEERSTAGE_TRACKER_UNTRUSTED_CERTIFICATE', class: 'refused' },
  /** The tracker could not be reached or answered with a server error. */
  UNREACHABLE: { code: 'PEERSTAGE_TRACKER_UNREACHABLE', class: 'transient' },
  /**
   * Too many requests from one source address (HTTP 429): wait the `Retry-After` seconds
   * (`details.retryAfterSeconds` on the node's side) and ask again.
   */
  RATE_LIMITED: { code: 'PEERSTAGE_TRACKER_RATE_LIMITED', class: 'transient' },
})

export type TrackerErrorCode = typeof TrackerErrorCodes[keyof typeof TrackerErrorCodes]

export function trackerError(code: TrackerErrorCode, message: string, options: { cause?: unknown, details?: Record<string, unknown> } = {}): PeerstageError {
  return new PeerstageError(code, message, options)
}
