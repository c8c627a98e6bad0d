import type { StoredPackage } from './store/index.ts'
import { MAX_BLOCK_BYTES } from './wire/index.ts'

/**
 * What the swarm holds a breach of the wire protocol, beyond what the frame guard refuses
 * (node/wire/frame-shape.ts). Each is a strike (PackageSwarm.violated); a peer that follows
 * the protocol never does any of these.
 */

/** Cancelled blocks remembered per peer: a block cancelled in the endgame may still arrive. */
export const MAX_CANCELLED = 4096

export function blockKey(piece: number, offset: number, length: number): string {
  return `${piece}:${offset}:${length}`
}

/** Why a bitfield is not one of this package's: ⌈pieces / 8⌉ bytes, the spare bits zero (BEP 3). */
export function badBitfield(bits: Uint8Array, pieceCount: number): string | undefined {
  const bytes = Math.ceil(pieceCount / 8)
  if (bits.length !== bytes) return `sent a bitfield of ${bits.length} bytes for ${pieceCount} pieces (${bytes} bytes)`
  const spare = pieceCount % 8 === 0 ? 0 : 0xff >> (pieceCount % 8)
  if ((bits[bytes - 1]! & spare) !== 0) return `sent a bitfield with bits set past piece ${pieceCount - 1}`
  return undefined
}

/**
 * Why a request is a breach: outside the package, past its piece's end, too long, or for a
 * piece we never said we have (`advertised`: the bits of every bitfield and have we sent).
 */
export function badRequest(pkg: StoredPackage, piece: number, offset: number, length: number, advertised: Uint8Array): string | undefined {
  if (piece >= pkg.pieceCount) return `asked for piece ${piece} of a package of ${pkg.pieceCount}`
  if (length === 0 || length > MAX_BLOCK_BYTES) return `asked for a block of ${length} bytes (1 to ${MAX_BLOCK_BYTES})`
  if (offset + length > pkg.pieceLength(piece)) return `asked for bytes ${offset}-${offset + length} of piece ${piece}, which has ${pkg.pieceLength(piece)}`
  if ((advertised[piece >> 3]! & (0x80 >> (piece & 7))) === 0) return `asked for piece ${piece}, which we never said we have`
  return undefined
}
