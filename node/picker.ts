/**
 * Which block to ask a peer for next: finish pieces already started, then rarest first
 * (random among equally rare), pieces marked urgent before all others, and at the tail
 * (endgame) the same block from several peers, the first answer winning.
 *
 * A piece is fetched whole, in blocks of `blockBytes`, unless `setRanges` says only some
 * byte ranges of it are missing (the rest is on this node already): then only those are
 * asked for, each cut into blocks of at most `blockBytes` at their exact offsets.
 */
export interface ByteRange {
  offset: number
  length: number
}

export interface BlockRequest extends ByteRange {
  piece: number
}

export interface PickerInit {
  pieceLengths: readonly number[]
  blockBytes: number
  /** Pieces this node already has. */
  have: (piece: number) => boolean
  /** Breaks ties among equally rare pieces (tests pass a seeded one). @default Math.random */
  random?: () => number
}

interface Progress {
  blocks: ByteRange[]
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
  /** piece → the only byte ranges to fetch (absent: the whole piece). */
  private readonly ranges = new Map<number, readonly ByteRange[]>()
  private readonly random: () => number

  constructor(init: PickerInit) {
    this.init = init
    this.availability = new Array<number>(init.pieceLengths.length).fill(0)
    this.random = init.random ?? Math.random
  }

  /** The blocks a piece is fetched in (once started: the ones it was started with). */
  blocksOf(piece: number): ByteRange[] {
    return this.inProgress.get(piece)?.blocks ?? this.layout(piece)
  }

  /**
   * Fetch only these byte ranges of a piece (sorted, not overlapping, not empty), or the
   * whole piece again with undefined. Takes effect the next time the piece is started.
   */
  setRanges(piece: number, ranges: readonly ByteRange[] | undefined): void {
    const length = this.init.pieceLengths[piece]
    if (length === undefined) throw new RangeError(`no piece ${piece}`)
    if (ranges === undefined) {
      this.ranges.delete(piece)
      return
    }
    let end = 0
    for (const r of ranges) {
      if (r.offset < end || r.length <= 0 || r.offset + r.length > length) throw new RangeError(`bad ranges for piece ${piece} (${length} bytes): ${JSON.stringify(ranges)}`)
      end = r.offset + r.length
    }
    if (ranges.length === 0) throw new RangeError(`no range to fetch in piece ${piece}`)
    this.ranges.set(piece, ranges)
  }

  /** Whether blocks of the piece are being asked for. */
  started(piece: number): boolean {
    return this.inProgress.has(piece)
  }

  /** A peer announced it has (or lost, delta −1) a piece. */
  addAvailability(piece: number, delta = 1): void {
    if (piece >= 0 && piece < this.availability.length) this.availability[piece]! += delta
  }

  /** Asks for this piece before all others. Nothing in the node calls it yet (only tests). */
  markUrgent(piece: number): void {
    this.urgent.add(piece)
  }

  /**
   * The next block to ask `peer` for, given what it has; undefined when nothing useful.
   * `rank` (lowest first) replaces rarity for new pieces: a WAN lease holder's own order.
   */
  next(peer: string, peerHas: (piece: number) => boolean, rank?: (piece: number) => number): BlockRequest | undefined {
    // 1. Unasked blocks of started pieces, urgent ones first.
    const started = [...this.inProgress.keys()].filter(peerHas).sort((a, b) => Number(this.urgent.has(b)) - Number(this.urgent.has(a)))
    for (const piece of started) {
      const block = this.unasked(piece)
      if (block !== undefined) return this.ask(peer, piece, block)
    }
    // 2. A new piece: urgent, then rarest (or by rank), random among equals.
    let best: number[] = []
    let bestKey = Number.POSITIVE_INFINITY
    let newElsewhere = false
    for (let piece = 0; piece < this.availability.length; piece++) {
      if (this.init.have(piece) || this.inProgress.has(piece)) continue
      if (!peerHas(piece)) {
        newElsewhere ||= this.availability[piece]! > 0
        continue
      }
      const key = (this.urgent.has(piece) ? -1e9 : 0) + (rank === undefined ? this.availability[piece]! : rank(piece))
      if (key < bestKey) {
        bestKey = key
        best = [piece]
      } else if (key === bestKey) best.push(piece)
    }
    if (best.length > 0) {
      const piece = best[Math.floor(this.random() * best.length)]!
      const blocks = this.layout(piece)
      this.inProgress.set(piece, { blocks, got: blocks.map(() => false), askedOf: blocks.map(() => new Set()) })
      return this.ask(peer, piece, 0)
    }
    // 3. Endgame, once no other peer has a piece to start either: every missing block is
    // asked of someone; ask this peer too. (Before, a peer holding only pieces started
    // elsewhere was asked for their blocks again: 8 LAN peers sent each other ~30 % twice.)
    if (newElsewhere) return undefined
    for (const piece of started) {
      const p = this.inProgress.get(piece)!
      const block = p.got.findIndex((got, i) => !got && !p.askedOf[i]!.has(peer))
      if (block !== -1) return this.ask(peer, piece, block)
    }
    return undefined
  }

  /**
   * A block arrived. `wanted` is false for one not (or no longer) asked for, e.g. a late
   * answer from before the piece started over in other blocks; otherwise returns the
   * other peers asked for it (to cancel) and whether the piece is whole.
   */
  received(piece: number, offset: number, from: string, length?: number): { wanted: boolean, duplicatesAt: string[], pieceDone: boolean } {
    const p = this.inProgress.get(piece)
    const block = p === undefined ? -1 : blockAt(p, offset, length)
    if (p === undefined || block === -1 || p.got[block] === true) return { wanted: false, duplicatesAt: [], pieceDone: false }
    p.got[block] = true
    const duplicatesAt = [...p.askedOf[block]!].filter((x) => x !== from)
    return { wanted: true, duplicatesAt, pieceDone: p.got.every(Boolean) }
  }

  /** A request failed or was cancelled: the block may be asked again. */
  failed(piece: number, offset: number, peer: string, length?: number): void {
    const p = this.inProgress.get(piece)
    if (p !== undefined) p.askedOf[blockAt(p, offset, length)]?.delete(peer)
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

  /** The piece's ranges to fetch, cut into blocks. */
  private layout(piece: number): ByteRange[] {
    const blocks: ByteRange[] = []
    for (const r of this.ranges.get(piece) ?? [{ offset: 0, length: this.init.pieceLengths[piece]! }]) {
      for (let at = r.offset; at < r.offset + r.length; at += this.init.blockBytes) {
        blocks.push({ offset: at, length: Math.min(this.init.blockBytes, r.offset + r.length - at) })
      }
    }
    return blocks
  }

  private unasked(piece: number): number | undefined {
    const p = this.inProgress.get(piece)!
    const i = p.askedOf.findIndex((asked, b) => !p.got[b] && asked.size === 0)
    return i === -1 ? undefined : i
  }

  private ask(peer: string, piece: number, block: number): BlockRequest {
    const p = this.inProgress.get(piece)!
    p.askedOf[block]!.add(peer)
    return { piece, ...p.blocks[block]! }
  }
}

/** The index of the block at `offset` (of that length, if given), or -1. */
function blockAt(p: Progress, offset: number, length?: number): number {
  return p.blocks.findIndex((b) => b.offset === offset && (length === undefined || b.length === length))
}
