import { defineErrorCodes, PeerstageError } from '../common/index.ts'

/** Stable codes of the node module and their classes (common/errors.ts); the store's are in store/errors.ts. */
export const NodeErrorCodes = defineErrorCodes('node', {
  /** A swarm key file that is missing, unreadable or not in the /key/swarm/psk/1.0.0/ format. */
  SWARM_KEY_INVALID: { code: 'PEERSTAGE_NODE_SWARM_KEY_INVALID', class: 'usage' },
  /** swarm-key would overwrite an existing key file. */
  SWARM_KEY_EXISTS: { code: 'PEERSTAGE_NODE_SWARM_KEY_EXISTS', class: 'usage' },
  /** A connection failed the noise handshake that proves swarm membership: the two sides hold different swarm keys. */
  SWARM_KEY_MISMATCH: { code: 'PEERSTAGE_NODE_SWARM_KEY_MISMATCH', class: 'failed' },
  /** A peer could not be reached at all (refused, unroutable, timed out). */
  DIAL_FAILED: { code: 'PEERSTAGE_NODE_DIAL_FAILED', class: 'transient' },
  /** A listen or peer address that is not a valid multiaddr. */
  BAD_ADDRESS: { code: 'PEERSTAGE_NODE_BAD_ADDRESS', class: 'usage' },
  /** A DP's source files do not match the manifest it was asked to seed. */
  SOURCE_MISMATCH: { code: 'PEERSTAGE_NODE_SOURCE_MISMATCH', class: 'failed' },
  /** The tracker's manifest for a package does not hash to that package's id. */
  MANIFEST_MISMATCH: { code: 'PEERSTAGE_NODE_MANIFEST_MISMATCH', class: 'refused' },
  /** A wire message longer than any legal one: the peer is cut off. */
  WIRE_OVERSIZE: { code: 'PEERSTAGE_NODE_WIRE_OVERSIZE', class: 'refused' },
  /** A wire message of an unknown kind or the wrong length for its kind, or a handshake that is not BitTorrent's: the peer is cut off and struck. */
  WIRE_MALFORMED: { code: 'PEERSTAGE_NODE_WIRE_MALFORMED', class: 'refused' },
  /**
   * fetch got no data for its stall timeout with no peer to blame by dial: the tracker handed
   * out none, granted no WAN lease for the only ones, or those that joined sent nothing.
   */
  NO_PEER: { code: 'PEERSTAGE_NODE_NO_PEER', class: 'transient' },
  /** fetch's files still did not verify after fetching their bad pieces again (a disk that corrupts what it writes). */
  VERIFY_FAILED: { code: 'PEERSTAGE_NODE_VERIFY_FAILED', class: 'failed' },
})

export type NodeErrorCode = typeof NodeErrorCodes[keyof typeof NodeErrorCodes]

export function nodeError(code: NodeErrorCode, message: string, options: { cause?: unknown, details?: Record<string, unknown> } = {}): PeerstageError {
  return new PeerstageError(code, message, options)
}
