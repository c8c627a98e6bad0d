import { NodeErrorCodes, nodeError } from '../errors.ts'

/**
 * Lengths (after the 4-byte prefix, id included) of each message kind a peer may send, as in
 * BEP 3, 5 (port), 6 (fast: suggest, have all, have none, reject, allowed fast) and 10
 * (extended, which bittorrent-protocol sends after the handshake). `exact` or at least `min`.
 */
const SHAPES: ReadonlyMap<number, { exact?: number, min?: number, name: string }> = new Map([
  [0, { exact: 1, name: 'choke' }], [1, { exact: 1, name: 'unchoke' }], [2, { exact: 1, name: 'interested' }], [3, { exact: 1, name: 'not interested' }],
  [4, { exact: 5, name: 'have' }], [5, { min: 1, name: 'bitfield' }], [6, { exact: 13, name: 'request' }], [7, { min: 9, name: 'piece' }],
  [8, { exact: 13, name: 'cancel' }], [9, { exact: 3, name: 'port' }], [0x0d, { exact: 5, name: 'suggest' }], [0x0e, { exact: 1, name: 'have all' }],
  [0x0f, { exact: 1, name: 'have none' }], [0x10, { exact: 13, name: 'reject' }], [0x11, { exact: 5, name: 'allowed fast' }], [20, { min: 2, name: 'extended' }],
])

const PROTOCOL = new TextEncoder().encode('\x13BitTorrent protocol')

/** Throws PEERSTAGE_NODE_WIRE_MALFORMED unless `frame` (`<u32 length><id>…`, length ≥ 1) is a message of a known kind and its length. */
export function checkMessage(frame: Uint8Array, at: number, length: number): void {
  const id = frame[at + 4]!
  const shape = SHAPES.get(id)
  if (shape === undefined) throw malformed(`peer sent a wire message of unknown kind ${id}`, { id, length })
  if ((shape.exact !== undefined && length !== shape.exact) || (shape.min !== undefined && length < shape.min)) {
    throw malformed(`peer sent a ${length}-byte ${shape.name} message; it is ${shape.exact ?? `at least ${shape.min}`} bytes`, { id, length })
  }
}

/** Throws PEERSTAGE_NODE_WIRE_MALFORMED unless the 68 bytes at `at` start `<19>BitTorrent protocol`. */
export function checkHandshake(bytes: Uint8Array, at: number): void {
  for (let i = 0; i < PROTOCOL.length; i++) {
    if (bytes[at + i] !== PROTOCOL[i]) throw malformed('peer opened the wire with something that is not a BitTorrent handshake', {})
  }
}

function malformed(message: string, details: Record<string, unknown>): Error {
  return nodeError(NodeErrorCodes.WIRE_MALFORMED, message, { details })
}
