import type { PiecePicker } from './picker.ts'
import { localShare, shareRun, type Share, type ShareRun } from './share-order.ts'

/**
 * What one peer adds to its swarm's counts. Not the wire's peerPieces, which a refused or
 * second bitfield replaces: taking back what was never counted wrapped the LAN counts to
 * 2^32 - 1, and a DP was never asked for that piece.
 */
export interface PeerOffers {
  readonly id: string
  /** Across the WAN (SwarmInit.isWanPeer): not counted on the LAN. */
  readonly wan: boolean
  /** One bit per piece counted for it. */
  bits: Uint8Array
  count: number
  /** A LAN peer that had every piece when it came, taken for the origin (SwarmInit.selfId). */
  origin: boolean
}

/** What an expensive peer may be asked for: the pieces, and the order (our run first). */
export interface Asking {
  offers: (piece: number) => boolean
  run: ShareRun | undefined
}

/**
 * Who offers which piece in one swarm, each peer and piece counted once: the picker's
 * rarity, the LAN's counts (a WAN peer is asked only for what no LAN peer offers, an origin
 * for what no LAN peer but the origins does), and our share among the LAN peers pulling
 * from an origin.
 */
export class SwarmAvailability {
  private readonly pieceCount: number
  private readonly picker: PiecePicker
  private readonly selfId: string | undefined
  /** Per piece: LAN peers that offer it. */
  private readonly lan: Uint32Array
  /** Origins among the LAN peers (each adds 1 to every `lan` count). */
  private lanOrigins = 0
  private readonly peers = new Set<PeerOffers>()
  /** Our share among the LAN peers pulling from an origin; recomputed when peers come and go. */
  private originShare: Share | undefined

  constructor(pieceCount: number, picker: PiecePicker, selfId: string | undefined) {
    this.pieceCount = pieceCount
    this.picker = picker
    this.selfId = selfId
    this.lan = new Uint32Array(pieceCount)
  }

  join(id: string, wan: boolean): PeerOffers {
    const peer = { id, wan, bits: new Uint8Array(Math.ceil(this.pieceCount / 8)), count: 0, origin: false }
    this.peers.add(peer)
    this.originShare = undefined
    return peer
  }

  /** The peer offers this piece: counted once, however often it says so. */
  add(peer: PeerOffers, piece: number): void {
    if (piece < 0 || piece >= this.pieceCount) return
    const bit = 0x80 >> (piece & 7)
    if ((peer.bits[piece >> 3]! & bit) !== 0) return
    peer.bits[piece >> 3]! |= bit
    peer.count++
    this.picker.addAvailability(piece, 1)
    if (!peer.wan) this.lan[piece]! += 1
  }

  /** After its bitfield: without a tracker (a selfId), a LAN peer with every piece is an origin. */
  bitfieldCounted(peer: PeerOffers): void {
    if (this.selfId === undefined || peer.wan || peer.origin || peer.count !== this.pieceCount) return
    peer.origin = true
    this.lanOrigins++
    this.originShare = undefined
  }

  /** The peer is gone: what it counted for comes off. */
  leave(peer: PeerOffers): void {
    if (!this.peers.delete(peer)) return
    for (let piece = 0; piece < this.pieceCount; piece++) {
      if ((peer.bits[piece >> 3]! & (0x80 >> (piece & 7))) === 0) continue
      this.picker.addAvailability(piece, -1)
      if (!peer.wan) this.lan[piece]! -= 1
    }
    if (peer.origin) this.lanOrigins--
    peer.bits.fill(0)
    peer.count = 0
    peer.origin = false
    this.originShare = undefined
  }

  /** What to ask this peer for (`has`: what it says it has), given our WAN share from the tracker. */
  asking(peer: PeerOffers, has: (piece: number) => boolean, wanShare: Share): Asking {
    if (peer.wan) return { offers: (i) => has(i) && this.lan[i] === 0, run: shareRun(this.pieceCount, wanShare) }
    if (peer.origin) return { offers: (i) => this.lan[i] === this.lanOrigins, run: this.originRun() }
    return { offers: has, run: undefined }
  }

  /** Our run of an origin's pieces among the other LAN peers (as they came: one that finished since keeps its place). */
  private originRun(): ShareRun {
    this.originShare ??= localShare(this.selfId!, [...this.peers].filter((p) => !p.wan && !p.origin).map((p) => p.id))
    return shareRun(this.pieceCount, this.originShare)
  }
}
