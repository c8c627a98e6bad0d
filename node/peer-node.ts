import { createHash } from 'node:crypto'
import { readlink, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Connection, PrivateKey, Stream } from '@libp2p/interface'
import type { Socket } from 'node:net'
import type { Limiter } from '../bandwidth/index.ts'
import { HashPool, verifyDirectory, type SignedManifest } from '../chunker/index.ts'
import { slash24, type AnnounceSigner } from '../tracker/protocol/index.ts'
import { createAuditLog, isPeerstageError, makeDataDir, PeerstageError, silentLogger, type AuditLog, type Logger } from '../common/index.ts'
import { NodeErrorCodes, nodeError } from './errors.ts'
import { linkName } from './staging/index.ts'
import { answerTicket, askTicket, BULK_PROTOCOL, bulkConnect, BulkServer } from './bulk/index.ts'
import { createHost, dialPeer, loadOrCreateIdentity, parseMultiaddr, type Host } from './host.ts'
import { dataDirError, readExactly, Store, type ChunkLocation, type StoredManifest, type StoredPackage } from './store/index.ts'
import { createNodeMetrics, type NodeMetrics } from './metrics.ts'
import { PackageSwarm, type LocalChunk, type PeerInfo, type SwarmInit } from './swarm.ts'
import { attachWire, attachWireToSocket, createWire, infoHashOf, maxMessageBytes, WIRE_PROTOCOL, type Wire } from './wire/index.ts'

/** Any legal message for packages of up to 2^20 pieces (2 TiB): a 128 KiB block is the largest. */
const MAX_MESSAGE_BYTES = maxMessageBytes(2 ** 20)
/** A peer that opened a wire but does not answer its handshake in this long is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000

export interface PeerNodeInit {
  /** Where the node keeps its identity and its store (`DIR/peer.key`, `DIR/db`). */
  dataDir: string
  swarmKey: Uint8Array
  /** @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Local IP outgoing connections leave from. */
  dialFrom?: string
  /**
   * Run the bulk channel (node/bulk): a TLS 1.3 PSK server on the first listen address's IP,
   * and wires opened over it where the peer runs one too. Off, this node asks for no tickets
   * and gives none, so every wire to or from it is a libp2p stream. @default true
   */
  bulk?: boolean
  /** TCP port of the bulk channel's server. @default 0 (any free port; peers learn it from the ticket) */
  bulkPort?: number
  swarm?: Omit<SwarmInit, 'uploadLimiterFor' | 'downloadLimiter' | 'downloadLimiterFor' | 'isWanPeer' | 'selfId'>
  uploadLimiterFor?: (remote: PeerInfo) => Limiter | undefined
  downloadLimiter?: Limiter
  downloadLimiterFor?: (remote: PeerInfo, packageId: string) => Limiter | undefined
  isWanPeer?: (remote: PeerInfo) => boolean
  /**
   * No tracker tells which peers are expensive: spare the seeds (an origin DP, given by
   * address), each piece asked of them about once among the LAN peers (SwarmInit.selfId).
   */
  spareSeeds?: boolean
  logger?: Logger
}


/**
 * A peerstage node: a libp2p host, a store, and one swarm per package it seeds or fetches.
 * Incoming wire streams are routed to the swarm whose info hash they name.
 */
export class PeerNode {
  readonly host: Host
  readonly store: Store
  readonly metrics: NodeMetrics
  /** The bulk channel's server; undefined when `bulk` is off. */
  private readonly bulk: BulkServer | undefined
  private readonly swarms = new Map<string, PackageSwarm>()
  private readonly reused = new Map<string, number>()
  private readonly init: PeerNodeInit
  private readonly log: Logger
  /** Wire-protocol breaches and wrong swarm keys, capped per kind and address (common/audit.ts). */
  private readonly audit: AuditLog
  /** Our 20-byte wire peer id, from the libp2p peer id. */
  private readonly wireId: string

  /** Signs this node's announces with its libp2p key: the tracker checks them against the peer id. */
  readonly signer: AnnounceSigner

  private constructor(host: Host, store: Store, init: PeerNodeInit, privateKey: PrivateKey, bulk: BulkServer | undefined) {
    this.host = host
    this.bulk = bulk
    this.signer = { peerId: host.peerId.toString(), sign: (data) => privateKey.sign(data) }
    this.store = store
    this.init = init
    this.log = init.logger ?? silentLogger()
    this.audit = createAuditLog(this.log)
    this.wireId = createHash('sha256').update(host.peerId.toString()).digest('hex').slice(0, 40)
    this.metrics = createNodeMetrics()
    this.ownSubnet = slash24(init.dialFrom ?? '127.0.0.1')
  }

  private readonly ownSubnet: string

  static async start(init: PeerNodeInit): Promise<PeerNode> {
    try {
      makeDataDir(init.dataDir)
    } catch (err) {
      throw dataDirError(init.dataDir, err)
    }
    const privateKey = await loadOrCreateIdentity(join(init.dataDir, 'peer.key'))
    const store = await Store.open(join(init.dataDir, 'db'))
    // No ticket is issued before the node exists (the protocol is handled below), so no socket comes earlier.
    let node: PeerNode | undefined
    const host = await createHost({
      swarmKey: init.swarmKey, privateKey, ...(init.listen && { listen: init.listen }), ...(init.dialFrom && { dialFrom: init.dialFrom }),
      // Seen from here a wrong key looks like any handshake the dialer gave up on (it aborts at message 2): said as such.
      onInboundHandshakeFailed: (ip, err) => node?.audit('handshake-failed', { addr: ip, reason: err.message }),
    })
    const bulk = init.bulk === false ? undefined : await BulkServer.listen({ host: listenIp(init.listen?.[0]), port: init.bulkPort ?? 0 }, (socket, peerId) => {
      if (node === undefined) return void socket.destroy()
      const peer = { id: peerId, ip: (socket.remoteAddress ?? '').replace(/^::ffff:/, '') }
      node.accept(node.socketWire(socket, peer), peer, 'bulk')
    })
    const started = node = new PeerNode(host, store, init, privateKey, bulk)
    await host.handle(WIRE_PROTOCOL, (stream, connection) => started.accept(started.streamWire(stream, peerInfo(connection)), peerInfo(connection), 'libp2p'))
    if (bulk !== undefined) await host.handle(BULK_PROTOCOL, (stream, connection) => answerTicket(bulk, stream, connection))
    return started
  }

  /** The bulk channel's TCP port; undefined when `bulk` is off. */
  get bulkPort(): number | undefined {
    return this.bulk?.port
  }

  get peerId(): string {
    return this.host.peerId.toString()
  }

  /** Full listen multiaddrs with /p2p/<peer id>, to give to `fetch --peer`. */
  get addresses(): string[] {
    return this.host.getMultiaddrs().map((m) => m.toString())
  }

  swarmOf(packageId: string): PackageSwarm | undefined {
    return this.swarms.get(infoHashOf(packageId))
  }

  /** Every package this node seeds or fetches now. */
  get allSwarms(): PackageSwarm[] {
    return [...this.swarms.values()]
  }

  /** Bytes reuseLocalChunks copied into a package, in this process. */
  reusedBytesOf(packageId: string): number {
    return this.reused.get(packageId) ?? 0
  }

  /** Seeds or resumes every package of the store (a restarted service picks up its work). */
  async openStored(): Promise<PackageSwarm[]> {
    const out: PackageSwarm[] = []
    for (const id of await this.store.packageIds()) {
      const pkg = await this.store.getPackage(id)
      if (pkg !== undefined) out.push(this.swarmFor(pkg))
    }
    return out
  }

  /**
   * Seeds a package from its source files in place (no copy), after checking every chunk
   * of them against the manifest. Throws naming the files that do not match.
   */
  async seed(signed: SignedManifest, sourceDir: string, pool?: HashPool): Promise<PackageSwarm> {
    const report = await verifyDirectory(signed.manifest, sourceDir, pool === undefined ? {} : { pool })
    if (!report.ok) {
      const bad = report.files.filter((f) => f.status !== 'ok').map((f) => `${f.path} (${f.status})`)
      throw new PeerstageError(NodeErrorCodes.SOURCE_MISMATCH, `${sourceDir} does not match ${signed.manifest.name}@${signed.manifest.version}: ${bad.join(', ')}`)
    }
    const pkg = await this.store.addPackage(signed, sourceDir, { readOnly: true })
    await pkg.markPresent(Array.from({ length: pkg.pieceCount }, (_, i) => i).filter((i) => !pkg.have.get(i)))
    return this.swarmFor(pkg)
  }

  /**
   * Adds a package to download into `root` (resuming saved progress) and returns its swarm.
   * With `reuse`, the chunks this node holds in other packages are copied (or planned)
   * first, before the swarm is announced or reachable: no peer is asked for what is here,
   * however long reading a big older version takes.
   */
  async want(signed: SignedManifest | StoredManifest, root: string, options: { reuse?: boolean } = {}): Promise<PackageSwarm> {
    const open = this.swarmOf(signed.packageId)
    if (open !== undefined) return open
    const pkg = await this.store.addPackage(signed, root)
    if (options.reuse !== true || pkg.complete) return this.swarmFor(pkg)
    const swarm = this.newSwarm(pkg)
    await this.reuseInto(pkg, swarm)
    return this.swarmOf(signed.packageId) ?? this.register(swarm)
  }

  /** Stops serving or fetching a package and deletes it from the store (files included, unless served in place). */
  async drop(packageId: string): Promise<void> {
    const infoHash = infoHashOf(packageId)
    const swarm = this.swarms.get(infoHash)
    this.swarms.delete(infoHash)
    await swarm?.stop()
    const pkg = await this.store.removePackage(packageId)
    // The readable NAME@VERSION link beside a materialized package goes with it.
    const name = pkg === undefined ? undefined : linkName(pkg.signed)
    if (pkg === undefined || name === undefined) return
    const link = join(dirname(pkg.root), name)
    if (await readlink(link).catch(() => undefined) === packageId) await unlink(link).catch(() => {})
  }

  /**
   * Copies into the package every missing piece whose chunks this node already holds in
   * another package (an older version). Of a piece only partly held, the swarm fetches
   * just the other chunks and reads the held ones when it assembles the piece: their
   * locations are kept, not their bytes, so memory stays one piece, and they are read once,
   * then: verified with the piece, a chunk changed since it was indexed makes the piece be
   * fetched whole. Returns the bytes reused (copied or to be read).
   */
  reuseLocalChunks(pkg: StoredPackage): Promise<number> {
    return this.reuseInto(pkg, this.swarmOf(pkg.packageId))
  }

  private async reuseInto(pkg: StoredPackage, swarm: PackageSwarm | undefined): Promise<number> {
    let reused = 0
    for (let piece = 0; piece < pkg.pieceCount; piece++) {
      if (pkg.have.get(piece) || swarm?.usesLocalChunks(piece) === true) continue // counted when planned
      const { offset: pieceStart, firstChunk } = pkg.manifest.pieces[piece]!
      const wanted = pkg.chunkLocations(piece)
      const found = await this.store.findChunks(wanted.map((c) => c.hash))
      // Held in another package's files; of a piece only partly held they are read when it is assembled.
      let local: LocalChunk[] = wanted.flatMap((c, i) => (found[i] === undefined || found[i].path === c.location.path ? [] : [{ offset: c.location.offset - pieceStart, location: found[i] }]))
      let bytes = 0
      if (local.length === wanted.length) {
        const data = Buffer.alloc(pkg.pieceLength(piece))
        for (const c of local) readChunk(c.location)?.copy(data, c.offset) // one unreadable stays zero and fails below
        const bad = new Set(pkg.badChunks(piece, data))
        if (bad.size === 0) {
          await pkg.writePiece(piece, data)
          bytes = data.length
        }
        local = local.filter((_, i) => !bad.has(firstChunk + i)) // changed since indexed: fetch those
      }
      if (bytes === 0 && local.length > 0 && swarm?.useLocalChunks(piece, local) === true) bytes = local.reduce((n, c) => n + c.location.length, 0)
      reused += bytes
      this.metrics.localReuseBytes.inc(bytes)
    }
    this.reused.set(pkg.packageId, this.reusedBytesOf(pkg.packageId) + reused)
    return reused
  }

  /**
   * Opens a wire for the package to a peer (a multiaddr; /p2p/<id> checks who answers);
   * resolves once the swarm has it, so a caller that dials again meanwhile can tell.
   */
  async connect(packageId: string, address: string): Promise<void> {
    const swarm = this.swarmOf(packageId)
    if (swarm === undefined) throw new TypeError(`not serving or fetching ${packageId}`)
    const conn = await dialPeer(this.host, address).catch((err: unknown) => {
      if (isPeerstageError(err, NodeErrorCodes.SWARM_KEY_MISMATCH)) this.audit('swarm-key-mismatch', { addr: ipOf(address), address })
      throw err
    })
    const bulk = await this.bulkWire(conn)
    const wire = bulk ?? this.streamWire(await conn.newStream(WIRE_PROTOCOL), peerInfo(conn))
    const infoHash = infoHashOf(packageId)
    const adopted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => wire.destroy(), HANDSHAKE_TIMEOUT_MS)
      wire.once('close', () => {
        clearTimeout(timer)
        // The peer dialled us at the same moment and both sides kept its wire: we are connected.
        if (swarm.hasPeer(peerInfo(conn).id)) resolve()
        else reject(nodeError(NodeErrorCodes.DIAL_FAILED, `${address} closed the wire for ${packageId} before its handshake`))
      })
      wire.once('handshake', (theirs: string) => {
        clearTimeout(timer)
        if (theirs !== infoHash) return wire.destroy()
        this.metrics.wires.inc({ transport: bulk === undefined ? 'libp2p' : 'bulk' })
        swarm.adopt(wire, peerInfo(conn), { preferred: this.peerId < peerInfo(conn).id })
        resolve()
      })
    })
    wire.handshake(infoHash, this.wireId)
    await adopted
  }

  /**
   * A wire over the bulk channel to the peer of `conn`: a ticket asked for on libp2p, then
   * TLS to the IP libp2p reached it on. Undefined, saying why, when that fails: the caller
   * falls back to a libp2p stream (a peer without bulk, a firewalled port).
   */
  private async bulkWire(conn: Connection): Promise<Wire | undefined> {
    if (this.bulk === undefined) return undefined
    const peer = peerInfo(conn)
    try {
      if (peer.ip === '') throw new Error(`no IP in ${conn.remoteAddr.toString()}`)
      const ticket = await askTicket(conn, { signal: AbortSignal.timeout(5000) })
      const socket = await bulkConnect(peer.ip, ticket, this.init.dialFrom === undefined ? {} : { localAddress: this.init.dialFrom })
      return this.socketWire(socket, peer)
    } catch (err) {
      this.log.info({ peer: peer.id, err: (err as Error).message }, 'no bulk channel to the peer: the wire goes on a libp2p stream')
      return undefined
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.swarms.values()].map((s) => s.stop()))
    this.swarms.clear()
    await this.bulk?.close()
    await this.host.stop()
    await this.store.close()
  }

  private swarmFor(pkg: StoredPackage): PackageSwarm {
    return this.swarmOf(pkg.packageId) ?? this.register(this.newSwarm(pkg))
  }

  private newSwarm(pkg: StoredPackage): PackageSwarm {
    return new PackageSwarm(pkg, {
      ...this.init.swarm,
      ...(this.init.uploadLimiterFor && { uploadLimiterFor: this.init.uploadLimiterFor }),
      ...(this.init.downloadLimiter && { downloadLimiter: this.init.downloadLimiter }),
      ...(this.init.downloadLimiterFor && { downloadLimiterFor: this.init.downloadLimiterFor }),
      ...(this.init.isWanPeer && { isWanPeer: this.init.isWanPeer }),
      ...(this.init.spareSeeds === true && { selfId: this.peerId }),
    }, this.log.child({ package: `${pkg.manifest.name}@${pkg.manifest.version}` }))
  }

  /** Makes a swarm routable (inbound handshakes, announces) and counted. */
  private register(swarm: PackageSwarm): PackageSwarm {
    this.swarms.set(infoHashOf(swarm.pkg.packageId), swarm)
    this.count(swarm)
    return swarm
  }

  private count(swarm: PackageSwarm): void {
    const m = this.metrics
    const cls = (p: PeerInfo): string => (slash24(p.ip) === this.ownSubnet ? 'lan' : 'wan')
    swarm.on('upload', (n, p) => {
      m.bytes.inc({ direction: 'up', class: cls(p) }, n)
      m.uploadBySubnet.inc({ subnet: slash24(p.ip) }, n)
    })
    swarm.on('download', (n, p) => m.bytes.inc({ direction: 'down', class: cls(p) }, n))
    swarm.on('piece', () => m.piecesVerified.inc())
    swarm.on('badPiece', () => m.piecesFailed.inc())
    swarm.on('ban', () => m.bannedPeers.inc())
    swarm.on('violation', (p, reason) => this.audit('wire-violation', { addr: p.ip, peer: p.id, reason }))
    swarm.on('peers', () => m.peers.set([...this.swarms.values()].reduce((n, s) => n + s.peerCount, 0)))
  }

  /** A wire the peer broke the framing of (oversize, malformed) is an audit line; the swarm strikes it. */
  private wireOptions(peer: PeerInfo) {
    return {
      maxMessageBytes: MAX_MESSAGE_BYTES,
      onClose: (err?: Error) => {
        if (err === undefined) return
        this.log.warn({ err: err.message, peer: peer.id }, 'wire closed')
        if (isPeerstageError(err, NodeErrorCodes.WIRE_OVERSIZE) || isPeerstageError(err, NodeErrorCodes.WIRE_MALFORMED)) {
          this.audit('wire-violation', { addr: peer.ip, peer: peer.id, code: err.code, reason: err.message })
        }
      },
    }
  }

  private streamWire(stream: Stream, peer: PeerInfo): Wire {
    const wire = createWire()
    attachWire(stream, wire, this.wireOptions(peer))
    return wire
  }

  private socketWire(socket: Socket, peer: PeerInfo): Wire {
    const wire = createWire()
    attachWireToSocket(socket, wire, this.wireOptions(peer))
    return wire
  }

  /** An incoming wire, from `peer` (authenticated by noise, or by the ticket it was given): routed by the info hash it names. */
  private accept(wire: Wire, peer: PeerInfo, transport: 'bulk' | 'libp2p'): void {
    wire.once('handshake', (infoHash: string) => {
      const swarm = this.swarms.get(infoHash)
      if (swarm === undefined || swarm.isBanned(peer.id)) return wire.destroy()
      wire.handshake(infoHash, this.wireId)
      this.metrics.wires.inc({ transport })
      swarm.adopt(wire, peer, { preferred: peer.id < this.peerId })
    })
  }
}

/** The IP of a listen multiaddr, where the bulk server listens too. */
function listenIp(address = '/ip4/127.0.0.1/tcp/0'): string {
  const ip = parseMultiaddr(address, 'listen address').getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
  return ip ?? '0.0.0.0'
}

/** A chunk's bytes where the index says they are; undefined if moved or shortened since. */
function readChunk(at: ChunkLocation): Buffer | undefined {
  try {
    return readExactly(at.path, at.offset, at.length)
  } catch {
    return undefined
  }
}

/** The IP of a multiaddr, for an audit line; the whole text when it has none. */
function ipOf(address: string): string {
  return /^\/ip[46]\/([^/]+)/.exec(address)?.[1] ?? address
}

function peerInfo(connection: Connection): PeerInfo {
  const ip = connection.remoteAddr.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
  return { id: connection.remotePeer.toString(), ip: ip ?? '' }
}
