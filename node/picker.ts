/**
 * Which block to ask a peer for next: finish pieces already started, then rarest first
 * (random among equally rare), pieces marked urgent before all others, and at the tail
 * (endgame) the same block from several peers, the first answer winning.
 */
export interface BlockRequest {
  piece: number
  offset: number
  length: number
}

export interface PickerInit {
  pieceLengths: readonly number[]
  blockBytes: number
  /** Pieces this node already has. */
  have: (piece: number) => boolean
  random?: () => number
}

interface Progress {
  /** Per block: received? */
  got: boolean[]
  /** Per block: peers asked. */
  askedOf: Array<Set<string>>
}

export class PiecePicker {
  private readonly init: PickerInit
  private readonly availability: number[]
  private readonly inProgress = new Map<number, Progress>()
  private readonly urgent = new Set<number>()
  private readonly random: () => number

  constructor(init: PickerInit) {
    this.init = init
    this.availability = new Array<number>(init.pieceLengths.length).fill(0)
    this.random = init.random ?? Math.random
  }

  blocksOf(piece: number): number {
    return Math.ceil(this.init.pieceLengths[piece]! / this.init.blockBytes)
  }

  /** A peer announced it has (or lost, delta −1) a piece. */
  addAvailability(piece: number, delta = 1): void {
    if (piece >= 0 && piece < this.availability.length) this.availability[piece]! += delta
  }

  markUrgent(piece: number): void {
    this.urgent.add(piece)
  }

  /** The next block to ask `peer` for, given what it has; undefined when nothing useful. */
  next(peer: string, peerHas: (piece: number) => boolean): BlockRequest | undefined {
    // 1. Unasked blocks of started pieces, urgent ones first.
    const started = [...this.inProgress.keys()].filter(peerHas).sort((a, b) => Number(this.urgent.has(b)) - Number(this.urgent.has(a)))
    for (const piece of started) {
      const block = this.unasked(piece)
      if (block !== undefined) return this.ask(peer, piece, block)
    }
    // 2. A new piece: urgent, then rarest, random among equals.
    let best: number[] = []
    let bestKey = Number.POSITIVE_INFINITY
    for (let piece = 0; piece < this.availability.length; piece++) {
      if (this.init.have(piece) || this.inProgress.has(piece) || !peerHas(piece)) continue
      const key = (this.urgent.has(piece) ? -1e9 : 0) + this.availability[piece]!
      if (key < bestKey) {
        bestKey = key
        best = [piece]
      } else if (key === bestKey) best.push(piece)
    }
    if (best.length > 0) {
      const piece = best[Math.floor(this.random() * best.length)]!
      this.inProgress.set(piece, { got: new Array(this.blocksOf(piece)).fill(false), askedOf: Array.from({ length: this.blocksOf(piece) }, () => new Set()) })
      return this.ask(peer, piece, 0)
    }
    // 3. Endgame: every missing block is asked of someone; ask this peer too.
    for (const piece of started) {
      const p = this.inProgress.get(piece)!
      const block = p.got.findIndex((got, i) => !got && !p.askedOf[i]!.has(peer))
      if (block !== -1) return this.ask(peer, piece, block)
    }
    return undefined
  }

  /** A block arrived; returns the other peers asked for it (to cancel) and whether the piece is whole. */
  received(piece: number, offset: number, from: string): { duplicatesAt: string[], pieceDone: boolean } {
    const p = this.inProgress.get(piece)
    const block = Math.floor(offset / this.init.blockBytes)
    if (p === undefined || p.got[block] === true) return { duplicatesAt: [], pieceDone: false }
    p.got[block] = true
    const duplicatesAt = [...p.askedOf[block]!].filter((x) => x !== from)
    return { duplicatesAt, pieceDone: p.got.every(Boolean) }
  }

  /** A request failed or was cancelled: the block may be asked again. */
  failed(piece: number, offset: number, peer: string): void {
    this.inProgress.get(piece)?.askedOf[Math.floor(offset / this.init.blockBytes)]?.delete(peer)
  }

  /** A peer went away: forget what it was asked. */
  peerGone(peer: string): void {
    for (const p of this.inProgress.values()) for (const asked of p.askedOf) asked.delete(peer)
  }

  /** The piece is done (written) or failed verification (start over). */
  finish(piece: number): void {
    this.inProgress.delete(piece)
    this.urgent.delete(piece)
  }

  private unasked(piece: number): number | undefined {
    const p = this.inProgress.get(piece)!
    const i = p.askedOf.findIndex((asked, b) => !p.got[b] && asked.size === 0)
    return i === -1 ? undefined : i
  }

  private ask(peer: string, piece: number, block: number): BlockRequest {
    this.inProgress.get(piece)!.askedOf[block]!.add(peer)
    const offset = block * this.init.blockBytes
    return { piece, offset, length: Math.min(this.init.blockBytes, this.init.pieceLengths[piece]! - offset) }
  }
}
