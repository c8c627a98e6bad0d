/**
 * The piece exchange: the BitTorrent peer wire (bittorrent-protocol), one per (peer, package),
 * on the bulk channel's TLS socket (attachWireToSocket) or, where that is not to be had, on a
 * libp2p stream (attachWire). Handshake info hash = the first 20 bytes of the package id.
 */
import WireImpl from 'bittorrent-protocol'
import { MAX_BLOCK_BYTES } from '../block-pool.ts'
import type { Wire, WireConstructor } from './wire-types.ts'

export { attachWire, attachWireToSocket, type AttachWireOptions } from './attach.ts'
export { FrameGuard, HANDSHAKE_BYTES } from './frame-guard.ts'
export { giveBackFrames, MAX_BLOCK_BYTES, MAX_FREE_BYTES, pooledFreeBytes, takeFrame } from '../block-pool.ts'
export type { Wire, BitFieldLike } from './wire-types.ts'

export const WIRE_PROTOCOL = '/peerstage/wire/1.0.0'

/** The largest legal message for a package of `pieceCount` pieces: a piece block or the bitfield. */
export function maxMessageBytes(pieceCount: number): number {
  return Math.max(9 + MAX_BLOCK_BYTES, 1 + Math.ceil(pieceCount / 8))
}

export function createWire(): Wire {
  const wire = new (WireImpl as unknown as WireConstructor)()
  wire.setKeepAlive(true)
  return wire
}

/** The 20-byte info hash of a package: the first 20 bytes of its id, as hex. */
export function infoHashOf(packageId: string): string {
  return packageId.slice(0, 40)
}
