import { PeerstageError } from '../common/index.ts'

export const NodeErrorCodes = {
  /** A swarm key file that is missing, unreadable or not in the /key/swarm/psk/1.0.0/ format. */
  SWARM_KEY_INVALID: 'PEERSTAGE_NODE_SWARM_KEY_INVALID',
  /** swarm-key would overwrite an existing key file. */
  SWARM_KEY_EXISTS: 'PEERSTAGE_NODE_SWARM_KEY_EXISTS',
  /** A connection failed the noise handshake that proves swarm membership: the two sides hold different swarm keys. */
  SWARM_KEY_MISMATCH: 'PEERSTAGE_NODE_SWARM_KEY_MISMATCH',
  /** A peer could not be reached at all (refused, unroutable, timed out). */
  DIAL_FAILED: 'PEERSTAGE_NODE_DIAL_FAILED',
  /** A listen or peer address that is not a valid multiaddr. */
  BAD_ADDRESS: 'PEERSTAGE_NODE_BAD_ADDRESS',
  /** A DP's source files do not match the manifest it was asked to seed. */
  SOURCE_MISMATCH: 'PEERSTAGE_NODE_SOURCE_MISMATCH',
  /** The tracker's manifest for a package does not hash to that package's id. */
  MANIFEST_MISMATCH: 'PEERSTAGE_NODE_MANIFEST_MISMATCH',
  /** A wire message longer than any legal one: the peer is cut off. */
  WIRE_OVERSIZE: 'PEERSTAGE_NODE_WIRE_OVERSIZE',
  /**
   * fetch got no data for its stall timeout with no peer to blame by dial: the tracker handed
   * out none, granted no WAN lease for the only ones, or those that joined sent nothing.
   */
  NO_PEER: 'PEERSTAGE_NODE_NO_PEER',
  /** fetch's files still did not verify after fetching their bad pieces again (a disk that corrupts what it writes). */
  VERIFY_FAILED: 'PEERSTAGE_NODE_VERIFY_FAILED',
} as const

export type NodeErrorCode = typeof NodeErrorCodes[keyof typeof NodeErrorCodes]

export function nodeError(code: NodeErrorCode, message: string, options: { cause?: unknown, details?: Record<string, unknown> } = {}): PeerstageError {
  return new PeerstageError(code, message, options)
}
