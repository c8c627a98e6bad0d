import { EventEmitter } from 'node:events'
import type { Limiter } from '../bandwidth/index.ts'
import type { Logger } from '../common/index.ts'
import { PiecePicker, type ByteRange } from './picker.ts'
import { validShare, type Share } from './share-order.ts'
import { SwarmAvailability, type PeerOffers } from './swarm-availability.ts'
import { readExactly, type ChunkLocation, type StoredPackage } from './store/index.ts'
import { giveBackFrames, MAX_BLOCK_BYTES, type Wire } from './wire/index.ts'
import { badBitfield, badRequest, blockKey, MAX_CANCELLED } from './swarm-violations.ts'

/**
 * Pieces received but not yet written, at most (bytes): a disk slower than the network holds
 * requests back instead of piling blocks up in memory (a 2 GiB fetch grew to ~1 GB RSS).
 * About eight ~2 MiB pieces: 32 MiB made a 10 GiB fetch no faster, only ~10 MB bigger.
 */
const MAX_QUEUED_BYTES = 16 * 2 ** 20
/** Blocks in flight to a WAN peer or an origin outside our share's run (one 2 MiB piece). */
const OUTSIDE_RUN_BLOCKS = 16

export interface SwarmInit {
  /** Block requests outstanding per peer: throughput depends on it. @default 64 (8 MiB) */
  maxInflightBlocks?: number
  /**
   * Strikes a peer may get before it is banned: one per piece it sent bad chunks of, and one
   * per breach of the wire protocol (swarm-violations.ts). Counted per peer id, across its wires. @default 2
   */
  maxStrikes?: number
  /** Paces all our requests (receiving side). */
  downloadLimiter?: Limiter
  /** Paces our requests to one peer for one package on top of downloadLimiter (a WAN lease's rate). */
  downloadLimiterFor?: (remote: PeerInfo, packageId: string) => Limiter | undefined
  /**
   * Peers across the WAN (DPs of other sites): asked only for pieces no LAN peer has, so
   * each byte crosses the WAN about once per subnet. @default none
   */
  isWanPeer?: (remote: PeerInfo) => boolean
  /**
   * Our own peer id, given when no tracker says which peer is expensive: then a LAN peer that
   * has every piece is taken for the origin, asked only for pieces no downloading peer
   * offers, in our share of them by sorted peer id (share-order.ts), so nodes started
   * together pull each piece from it about once. Without it every LAN peer is alike.
   */
  selfId?: string
  /** Paces our uploads, per remote peer's address. */
  uploadLimiterFor?: (remote: PeerInfo) => Limiter | undefined
  /**
   * A silent peer with requests outstanding is dropped after this. The timer is the wire's
   * own (bittorrent-protocol's setTimeout), so it runs on real time, not on a Clock.
   * @default 30000
   */
  requestTimeoutMs?: number
}

/** SwarmInit's defaults, in one place. */
export const SWARM_DEFAULTS = {
  maxInflightBlocks: 64,
  maxStrikes: 2,
  requestTimeoutMs: 30_000,
} as const satisfies SwarmInit

export interface PeerInfo {
  /** libp2p peer id. */
  id: string
  /** Remote IP as the connection sees it. */
  ip: string
}

interface Peer extends PeerInfo {
  wire: Wire
  inflight: number
  /** Set while the wire hands us a block we asked for: a 'piece' event without it was never asked for. */
  answering: boolean
  /** Blocks we cancelled and may still arrive (`piece:offset:length`): not a breach when they do. */
  cancelled: Set<string>
  /** Aborts requests still waiting for a limiter when the peer goes or is no longer asked. */
  gone: AbortController
  /**
   * Aborts uploads still waiting for a limiter when the wire closes. Not `gone`: a retired
   * peer is still served until its wire closes.
   */
  closed: AbortController
  /** Requests sent on the wire and not yet answered (inflight also counts those waiting for a limiter). */
  onWire: number
  /** Why we no longer ask this peer: it is closed once its answers are in. */
  retiring: string | undefined
  /** Whether this wire beats another to the same peer (adopt's `preferred`). */
  preferred: boolean
  /** What it adds to the availability counts: what drop() takes back. */
  offers: PeerOffers
}

/** A chunk of a missing piece that this node already holds elsewhere (an older version). */
export interface LocalChunk {
  /** Byte offset within the piece. */
  offset: number
  /** Where its bytes are: read only when the piece is assembled. */
  location: ChunkLocation
}

export interface SwarmEvents {
  piece: [piece: number, from: string]
  complete: []
  ban: [peer: string, reason: string]
  /** A peer broke the wire protocol (it is struck): for the audit log. */
  violation: [peer: PeerInfo, reason: string]
  upload: [bytes: number, to: PeerInfo]
  download: [bytes: number, from: PeerInfo]
  /** A piece failed verification and was discarded. */
  badPiece: [piece: number]
  /** The number of peers changed. */
  peers: [count: number]
  /** A piece could not be written (disk full, I/O): fatal for this download. */
  error: [err: Error]
}

/**
 * One package's swarm on one node: every wire open for it, the picker, the pieces being
 * assembled. Verifies each piece chunk by chunk before it is written; a peer whose pieces
 * fail is struck, then banned, and the piece is asked of others.
 */
export class PackageSwarm extends EventEmitter<SwarmEvents> {
  readonly pkg: StoredPackage
  private readonly peers = new Map<string, Peer>()
  private readonly banned = new Set<string>()
  /** Strikes per peer id: kept when its wire closes, so reconnecting does not wipe them. */
  private readonly strikes = new Map<string, number>()
  /**
   * Every piece we ever told a peer we have (bitfield or have): one found bad on disk since is
   * asked for in good faith, so a request for it is no breach.
   */
  private readonly advertised: Uint8Array
  private readonly picker: PiecePicker
  /** Who offers which piece: rarity, the LAN's counts, origins. */
  private readonly availability: SwarmAvailability
  /** piece → its blocks as they arrived (kept, not copied into one buffer) and who sent each (by offset). */
  private readonly assembling = new Map<number, { blocks: Block[], senders: Map<number, Sender> }>()
  /** piece → its chunks held locally (only the rest is fetched). Locations, never bytes. */
  private readonly local = new Map<number, LocalChunk[]>()
  private readonly init: Required<Pick<SwarmInit, 'maxInflightBlocks' | 'maxStrikes' | 'requestTimeoutMs'>> & SwarmInit
  private readonly log: Logger
  private writing = Promise.resolve()
  /** Bytes of whole pieces waiting to be verified and written: past MAX_QUEUED_BYTES nothing more is asked. */
  private queuedBytes = 0
  private stopped = false
  /** Our share of the WAN pulls among the subnet's lease holders (tracker/announce-types.ts, LeaseGrant). */
  private wanShare: Share = { index: 0, of: 1 }

  constructor(pkg: StoredPackage, init: SwarmInit, log: Logger) {
    super()
    this.pkg = pkg
    this.init = { ...SWARM_DEFAULTS, ...init }
    this.log = log
    this.picker = new PiecePicker({
      pieceLengths: pkg.manifest.pieces.map((p) => p.length),
      blockBytes: MAX_BLOCK_BYTES,
      have: (i) => pkg.have.get(i),
    })
    this.availability = new SwarmAvailability(pkg.pieceCount, this.picker, init.selfId)
    this.advertised = new Uint8Array(pkg.have.bytes)
  }

  get peerCount(): number {
    return this.peers.size
  }

  isBanned(peer: string): boolean {
    return this.banned.has(peer)
  }

  hasPeer(id: string): boolean {
    return this.peers.has(id)
  }

  /** Closes the wire to a peer now. */
  dropPeer(id: string, reason: string): void {
    const peer = this.peers.get(id)
    if (peer !== undefined) this.drop(peer, reason)
  }

  /**
   * Stops asking a peer (e.g. a DP once the WAN lease is gone) and closes its wire once the
   * blocks already asked for are in: they are on their way, and dropping them would waste
   * the bytes the peer has sent. Requests not yet sent go back to the picker.
   */
  retirePeer(id: string, reason: string): void {
    const peer = this.peers.get(id)
    if (peer === undefined || peer.retiring !== undefined) return
    peer.retiring = reason
    peer.gone.abort()
    peer.gone = new AbortController()
    this.closeIfRetired(peer)
  }

  /** Asks a retiring peer again (the lease came back before its last answers did). */
  keepPeer(id: string): void {
    const peer = this.peers.get(id)
    if (peer?.retiring === undefined) return
    peer.retiring = undefined
    this.fill(peer)
  }

  setWanShare(share: { index: number, of: number }): void {
    this.wanShare = validShare(share)
  }

  /** Peers holding a piece we lack: when there are none, the tracker may know better ones. */
  get usefulPeerCount(): number {
    let n = 0
    for (const p of this.peers.values()) if (p.retiring === undefined && p.wire.amInterested) n++
    return n
  }

  /**
   * Takes over a wire whose handshake for this package is done. Of two wires to one peer the
   * `preferred` one stays: when two peers dial each other at once, both sides must keep the
   * same wire (the caller prefers the one the lower peer id dialed), or each keeps its own,
   * the other side closes it, and they end with none.
   */
  adopt(wire: Wire, info: PeerInfo, options: { preferred?: boolean } = {}): void {
    const preferred = options.preferred ?? false
    const existing = this.peers.get(info.id)
    if (existing !== undefined && preferred && !existing.preferred) this.drop(existing, 'replaced by the wire both sides keep')
    else if (existing !== undefined || this.banned.has(info.id)) {
      wire.destroy()
      return
    }
    const peer: Peer = { ...info, wire, inflight: 0, answering: false, cancelled: new Set(), gone: new AbortController(), closed: new AbortController(), onWire: 0, retiring: undefined, preferred, offers: this.availability.join(info.id, this.init.isWanPeer?.(info) ?? false) }
    this.peers.set(info.id, peer)
    this.emit('peers', this.peers.size)
    wire.setTimeout(this.init.requestTimeoutMs, true) // the wire's own timer, on real time: see requestTimeoutMs
    wire.bitfield(this.pkg.have.bytes)
    this.pkg.have.bytes.forEach((bits, i) => { this.advertised[i]! |= bits })
    wire.unchoke()
    // Breaches of the wire protocol: the frame guard's (oversize, malformed), then what only the swarm can tell.
    wire.on('violation', (err: Error) => this.violated(peer, err.message, { said: false })) // PeerNode audits the wire's close
    wire.on('bitfield', (bits) => {
      const wrong = badBitfield(bits.buffer, this.pkg.pieceCount)
      if (wrong !== undefined) return this.violated(peer, wrong, { drop: true })
      for (let i = 0; i < this.pkg.pieceCount; i++) if (bits.get(i)) this.availability.add(peer.offers, i)
      this.availability.bitfieldCounted(peer.offers)
      this.updateInterest(peer)
    })
    wire.on('have', (i) => {
      if (i >= this.pkg.pieceCount) return this.violated(peer, `sent have for piece ${i} of a package of ${this.pkg.pieceCount}`)
      this.availability.add(peer.offers, i)
      // One new piece can only add interest: no need to rescan the whole bitfield.
      if (!this.pkg.complete && !this.pkg.have.get(i)) {
        if (!peer.wire.amInterested) peer.wire.interested()
        this.fill(peer)
      }
    })
    wire.on('unchoke', () => this.fill(peer))
    wire.on('piece', (index, offset, block) => {
      if (peer.answering) return void (peer.answering = false)
      if (peer.cancelled.delete(blockKey(index, offset, block.length))) return // cancelled after it left the peer
      this.violated(peer, `sent a block never asked for (piece ${index}, offset ${offset}, ${block.length} bytes)`)
    })
    wire.on('request', (index, offset, length, respond) => void this.serve(peer, index, offset, length, respond))
    wire.on('timeout', () => this.drop(peer, 'request timed out'))
    wire.on('close', () => this.drop(peer))
  }

  /**
   * Fetches only the rest of a missing piece: these chunks of it (sorted by offset, not
   * the whole piece) are on this node already and are read from there when the piece is
   * assembled. Ignored (false) for a piece already present, being fetched or planned so.
   */
  useLocalChunks(piece: number, chunks: readonly LocalChunk[]): boolean {
    if (this.pkg.have.get(piece) || this.picker.started(piece) || this.local.has(piece)) return false
    const missing: ByteRange[] = []
    let at = 0
    for (const c of chunks) {
      if (c.offset > at) missing.push({ offset: at, length: c.offset - at })
      at = c.offset + c.location.length
    }
    if (at < this.pkg.pieceLength(piece)) missing.push({ offset: at, length: this.pkg.pieceLength(piece) - at })
    this.picker.setRanges(piece, missing)
    this.local.set(piece, [...chunks])
    return true
  }

  /** Whether part of a missing piece is to be read from this node (useLocalChunks). */
  usesLocalChunks(piece: number): boolean {
    return this.local.has(piece)
  }

  /** Pieces were marked missing (found bad on disk): ask the peers for them again. */
  recheck(): void {
    for (const p of this.peers.values()) this.updateInterest(p)
  }

  /** Closes every wire and waits for pieces being written. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const p of [...this.peers.values()]) this.drop(p)
    await this.writing
  }

  private updateInterest(peer: Peer): void {
    const wants = !this.pkg.complete && Array.from({ length: this.pkg.pieceCount }, (_, i) => i).some((i) => !this.pkg.have.get(i) && peer.wire.peerPieces.get(i))
    if (wants && !peer.wire.amInterested) peer.wire.interested()
    else if (!wants && peer.wire.amInterested) peer.wire.uninterested()
    if (wants) this.fill(peer)
  }

  private fill(peer: Peer): void {
    if (peer.wire.peerChoking || this.pkg.complete || peer.retiring !== undefined || this.queuedBytes >= MAX_QUEUED_BYTES) return
    // An expensive source is asked only for what the LAN cannot give (a WAN DP: what no LAN peer offers; an origin: what no other LAN peer does).
    const { offers, run } = this.availability.asking(peer.offers, (i) => peer.wire.peerPieces.get(i), this.wanShare)
    const inRun = run === undefined ? offers : (i: number) => i >= run.start && i < run.end && offers(i)
    while (peer.inflight < this.init.maxInflightBlocks) {
      // Past our own run, a piece's worth at a time: the holder whose run it is may be pulling it too.
      const req = this.picker.next(peer.id, inRun, run?.rank) ??
        (run !== undefined && peer.inflight < OUTSIDE_RUN_BLOCKS ? this.picker.next(peer.id, offers, run.rank) : undefined)
      if (req === undefined) return
      peer.inflight++
      void this.request(peer, req.piece, req.offset, req.length)
    }
  }

  private async request(peer: Peer, piece: number, offset: number, length: number): Promise<void> {
    const { signal } = peer.gone
    try {
      await this.init.downloadLimiter?.take(length, signal)
      await this.init.downloadLimiterFor?.(peer, this.pkg.packageId)?.take(length, signal)
      if (signal.aborted) throw new Error('peer gone or retired')
    } catch {
      peer.inflight--
      this.picker.failed(piece, offset, peer.id, length)
      this.closeIfRetired(peer)
      return
    }
    peer.onWire++
    peer.wire.request(piece, offset, length, (err, block) => {
      peer.inflight--
      peer.onWire--
      if (!err) peer.answering = true // the wire emits 'piece' right after this
      if (err || block === undefined || block.length !== length) this.picker.failed(piece, offset, peer.id, length)
      else {
        this.emit('download', block.length, peer)
        this.onBlock(peer, piece, offset, block)
      }
      if (this.peers.get(peer.id) === peer) this.fill(peer)
      this.closeIfRetired(peer)
    })
  }

  private closeIfRetired(peer: Peer): void {
    if (peer.retiring !== undefined && peer.onWire === 0 && this.peers.get(peer.id) === peer) this.drop(peer, peer.retiring)
  }

  private onBlock(peer: Peer, piece: number, offset: number, block: Uint8Array): void {
    if (this.pkg.have.get(piece)) return
    const { wanted, duplicatesAt, pieceDone } = this.picker.received(piece, offset, peer.id, block.length)
    if (!wanted) return
    for (const other of duplicatesAt) this.cancel(this.peers.get(other), piece, offset, block.length)
    let a = this.assembling.get(piece)
    if (a === undefined) {
      a = { blocks: [], senders: new Map() }
      this.assembling.set(piece, a)
    }
    a.blocks.push({ offset, bytes: block })
    a.senders.set(offset, { id: peer.id, length: block.length })
    if (pieceDone) {
      const done = a
      this.assembling.delete(piece)
      // Writes go one at a time: each flushes to disk before its have bit is saved.
      const length = this.pkg.pieceLength(piece)
      this.queuedBytes += length
      this.writing = this.writing.then(() => this.completePiece(piece, done.blocks, done.senders)).finally(() => {
        this.queuedBytes -= length
        // Below the mark again: ask for more.
        if (this.queuedBytes + length >= MAX_QUEUED_BYTES && this.queuedBytes < MAX_QUEUED_BYTES) for (const p of this.peers.values()) this.fill(p)
      })
    }
  }

  private async completePiece(piece: number, blocks: Block[], senders: Map<number, Sender>): Promise<void> {
    if (this.stopped) return
    const local = this.local.get(piece) ?? []
    for (const c of local) {
      let bytes: Uint8Array
      try {
        bytes = readExactly(c.location.path, c.location.offset, c.location.length)
      } catch {
        // Moved or shortened since indexed: zeros, so it fails verification below.
        bytes = new Uint8Array(c.location.length)
      }
      blocks.push({ offset: c.offset, bytes })
    }
    const data = tile(blocks, this.pkg.pieceLength(piece))
    const bad = this.pkg.badChunks(piece, data)
    if (bad.length > 0) {
      this.picker.finish(piece)
      this.emit('badPiece', piece)
      const spans = this.spansOf(piece, bad)
      const fromNetwork = spans.filter((s) => !local.some((c) => c.offset === s.offset))
      if (fromNetwork.length < spans.length) {
        // A local file changed since it was indexed: not the peers' fault; fetch it all next time.
        this.log.info({ piece }, 'local chunks changed since indexed: fetching the whole piece')
        this.local.delete(piece)
        this.picker.setRanges(piece, undefined)
      }
      for (const id of this.sendersOf(fromNetwork, senders)) this.strike(id, `sent ${fromNetwork.length} bad chunk(s) in piece ${piece}`)
      for (const p of this.peers.values()) this.fill(p)
      giveBackFrames(blocks.map((b) => b.bytes))
      return
    }
    try {
      await this.pkg.writePiece(piece, data)
      giveBackFrames(blocks.map((b) => b.bytes)) // on disk: nothing holds a view of them now
    } catch (err) {
      this.picker.finish(piece)
      if (this.listenerCount('error') > 0) this.emit('error', err as Error)
      else this.log.error({ err: (err as Error).message, piece }, 'piece not written')
      return
    }
    this.picker.finish(piece)
    this.local.delete(piece)
    this.emit('piece', piece, [...senders.values()][0]?.id ?? '')
    this.advertised[piece >> 3]! |= 0x80 >> (piece & 7)
    for (const p of this.peers.values()) p.wire.have(piece)
    // A peer left idle (nothing new to start from it, the tail not reached yet) may have work now.
    if (!this.pkg.complete) for (const p of this.peers.values()) if (p.inflight === 0 && p.wire.amInterested) this.fill(p)
    if (this.pkg.complete) {
      this.emit('complete')
      for (const p of this.peers.values()) if (p.wire.amInterested) p.wire.uninterested()
    }
  }

  /** Where in the piece these of its chunks (manifest indexes) are. */
  private spansOf(piece: number, chunks: number[]): ByteRange[] {
    const p = this.pkg.manifest.pieces[piece]!
    const sizes = this.pkg.manifest.chunks.sizes
    const out: ByteRange[] = []
    let at = 0
    for (let k = p.firstChunk; k < p.firstChunk + p.chunkCount; at += sizes[k++]!) {
      if (chunks.includes(k)) out.push({ offset: at, length: sizes[k]! })
    }
    return out
  }

  /** The peers that sent blocks overlapping these byte ranges. */
  private sendersOf(spans: ByteRange[], senders: Map<number, Sender>): Set<string> {
    const out = new Set<string>()
    for (const s of spans) {
      for (const [offset, { id, length }] of senders) if (offset < s.offset + s.length && offset + length > s.offset) out.add(id)
    }
    return out
  }

  /** Endgame: another peer sent this block first. It may be on its way already: then it is no breach. */
  private cancel(peer: Peer | undefined, piece: number, offset: number, length: number): void {
    if (peer === undefined) return
    peer.cancelled.add(blockKey(piece, offset, length))
    if (peer.cancelled.size > MAX_CANCELLED) peer.cancelled.delete(peer.cancelled.values().next().value!)
    peer.wire.cancel(piece, offset, length)
  }

  /**
   * A breach of the wire protocol: a strike, as for bad data; with `drop` the wire goes too
   * (what it says can no longer be trusted). `said: false`: told elsewhere, no 'violation' event.
   */
  private violated(peer: Peer, reason: string, options: { drop?: boolean, said?: boolean } = {}): void {
    if (this.peers.get(peer.id) !== peer) return
    if (options.said !== false) this.emit('violation', { id: peer.id, ip: peer.ip }, reason)
    this.strike(peer.id, reason, 'broke the wire protocol')
    if (options.drop === true) this.drop(peer, reason)
  }

  private strike(id: string, reason: string, what = 'bad data from peer'): void {
    const peer = this.peers.get(id)
    if (peer === undefined) return
    const strikes = (this.strikes.get(id) ?? 0) + 1
    this.strikes.set(id, strikes)
    this.log.warn({ peer: id, strikes, reason }, what)
    if (strikes >= this.init.maxStrikes) {
      this.banned.add(id)
      this.emit('ban', id, reason)
      this.log.warn({ peer: id, reason }, 'peer banned')
      this.drop(peer)
    }
  }

  private async serve(peer: Peer, index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void): Promise<void> {
    try {
      const wrong = badRequest(this.pkg, index, offset, length, this.advertised)
      if (wrong !== undefined) {
        this.violated(peer, wrong)
        throw new Error(wrong)
      }
      if (!this.pkg.have.get(index)) throw new Error('not available') // we had it, and found it bad since
      await this.init.uploadLimiterFor?.(peer)?.take(length, peer.closed.signal)
      if (peer.closed.signal.aborted) throw new Error('peer gone')
      // A program run from the package may have edited it: never serve what no longer matches.
      const { block, lost } = await this.pkg.blockToServe(index, offset, length)
      if (lost.length > 0) this.lost(lost)
      if (block === undefined) throw new Error('not available')
      respond(null, block)
      this.emit('upload', length, peer)
    } catch (err) {
      respond(err as Error)
    }
  }

  /**
   * Pieces we had (and told our peers so) were found bad on disk and marked missing: fetch
   * them again, and close the wires of the peers that lack one — BitTorrent cannot take a
   * `have` back, and they would ask us for it (and, refused, wait out the request timeout)
   * until they reconnect and get our bitfield as it is now. Peers holding them stay: they
   * never ask us for them, and may give them back.
   */
  private lost(pieces: readonly number[]): void {
    for (const p of [...this.peers.values()]) {
      if (pieces.some((i) => !p.wire.peerPieces.get(i))) this.drop(p, `we lost piece(s) ${pieces.join(', ')} we had told it of (changed on disk): reconnect for our bitfield`)
    }
    this.recheck()
  }

  private drop(peer: Peer, reason?: string): void {
    if (this.peers.get(peer.id) !== peer) return // gone already, or replaced by another wire to it
    this.peers.delete(peer.id)
    this.emit('peers', this.peers.size)
    if (reason !== undefined) this.log.info({ peer: peer.id, reason }, 'peer dropped')
    peer.gone.abort()
    peer.closed.abort()
    this.picker.peerGone(peer.id)
    this.availability.leave(peer.offers)
    peer.wire.destroy()
    for (const p of this.peers.values()) this.fill(p)
  }
}

/** Who sent a block of a piece being assembled, and its length. */
interface Sender {
  id: string
  length: number
}

/** A run of a piece's bytes: a block as it arrived, or a chunk read locally. */
interface Block {
  offset: number
  bytes: Uint8Array
}

/**
 * The piece as its blocks in order, when they tile it exactly (always, as the picker hands
 * out ranges); otherwise one buffer with the blocks copied in and any gap left zero, which
 * fails verification.
 */
function tile(blocks: Block[], length: number): Uint8Array | Uint8Array[] {
  blocks.sort((a, b) => a.offset - b.offset)
  let at = 0
  let i = 0
  for (; i < blocks.length && blocks[i]!.offset === at; i++) at += blocks[i]!.bytes.length
  if (i === blocks.length && at === length) return blocks.map((b) => b.bytes)
  const data = new Uint8Array(length)
  for (const b of blocks) if (b.offset + b.bytes.length <= length) data.set(b.bytes, b.offset)
  return data
}
