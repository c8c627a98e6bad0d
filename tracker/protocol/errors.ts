import { PeerstageError } from '../../common/index.ts'

/** Stable codes of the tracker module; README lists them all and a test keeps it so. */
export const TrackerErrorCodes = {
  /** The tracker's YAML config is unreadable, not YAML, or breaks a rule (the message names the key). */
  BAD_CONFIG: 'PEERSTAGE_TRACKER_BAD_CONFIG',
  /** An API request whose body or query breaks the schema (HTTP 400). */
  BAD_REQUEST: 'PEERSTAGE_TRACKER_BAD_REQUEST',
  /** A missing or wrong bearer token (HTTP 401). */
  UNAUTHORIZED: 'PEERSTAGE_TRACKER_UNAUTHORIZED',
  /** A site, subnet, deployment, package, manifest or route the tracker does not have (HTTP 404). */
  NOT_FOUND: 'PEERSTAGE_TRACKER_NOT_FOUND',
  /** The tracker failed on a request it should have handled (HTTP 500): see its log. */
  INTERNAL: 'PEERSTAGE_TRACKER_INTERNAL',
  /**
   * A deployment's manifest is unsigned, its signature does not match, its publisher is not
   * in the tracker's `trust` list, or the tracker trusts no publisher at all (HTTP 400).
   */
  UNTRUSTED_PACKAGE: 'PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE',
  /**
   * A package cannot leave the catalogue while a deployment that is neither cancelled nor
   * expired names it: the message lists those deployments (HTTP 409).
   */
  PACKAGE_IN_USE: 'PEERSTAGE_TRACKER_PACKAGE_IN_USE',
  /** An announce without a valid signature by the key of the peer id it names (HTTP 401). */
  BAD_SIGNATURE: 'PEERSTAGE_TRACKER_BAD_SIGNATURE',
  /** An announce signed too far from the tracker's clock, or not later than that peer's last: a replay or a skewed clock (HTTP 401). */
  STALE_SIGNATURE: 'PEERSTAGE_TRACKER_STALE_SIGNATURE',
  /**
   * A peer id announced from another subnet than the one it registered from: it stays bound
   * there until its registration expires or an admin releases it (HTTP 409).
   */
  PEER_BOUND: 'PEERSTAGE_TRACKER_PEER_BOUND',
  /** `NAME@VERSION` is already bound to another package id: a version is immutable (HTTP 409). */
  VERSION_TAKEN: 'PEERSTAGE_TRACKER_VERSION_TAKEN',
  /** The tracker could not write a change to its store: nothing changed; try again (HTTP 503). */
  STORE_FAILED: 'PEERSTAGE_TRACKER_STORE_FAILED',
  /**
   * The tracker's state directory (`--data`) cannot be used: held by another running
   * tracker, damaged, read-only, or not a directory. `details.problem` says which.
   */
  DATA_DIR: 'PEERSTAGE_TRACKER_DATA_DIR',
  /** The tracker could not be reached or answered with a server error. */
  UNREACHABLE: 'PEERSTAGE_TRACKER_UNREACHABLE',
} as const

export type TrackerErrorCode = typeof TrackerErrorCodes[keyof typeof TrackerErrorCodes]

export function trackerError(code: TrackerErrorCode, message: string, options: { cause?: unknown, details?: Record<string, unknown> } = {}): PeerstageError {
  return new PeerstageError(code, message, options)
}
