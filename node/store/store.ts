import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Level } from 'level'
import { chunkHash, HASH_BYTES, parseManifest, type Manifest, type SignedManifest } from '../../chunker/index.ts'
import { PeerstageError } from '../../common/index.ts'
import { Bitfield } from './bitfield.ts'
import { filePath, preallocate, readExactly } from './package-files.ts'

/** Pieces are flushed to disk (and saved as present) in batches of this many bytes… */
const FLUSH_BYTES = 32 * 1024 * 1024
/** …or this long after the first unflushed write. */
const FLUSH_DELAY_MS = 250

export const StoreErrorCodes = {
  /** The disk is full (or over quota): the piece was not written and is not marked present. */
  DISK_FULL: 'PEERSTAGE_STORE_DISK_FULL',
  /** Writing or reading package data failed for another reason (permissions, I/O error). */
  IO: 'PEERSTAGE_STORE_IO',
} as const

interface PackageRecord {
  root: string
  /** Served in place from its source: never written to. */
  readOnly: boolean
  /** Set while the files move here: a crash mid-move is finished (or forgotten) on reopen. */
  movingTo?: string
}

/** Where a chunk's bytes already are on this node. */
export interface ChunkLocation {
  path: string
  offset: number
  length: number
}

/**
 * A node's package data: manifests, have-bitfields and a chunk index (hash → where it is)
 * in `level`; the files themselves under each package's root, written in place at piece
 * offsets. A have bit is stored only after its piece's bytes are flushed, so a crash loses
 * at most the pieces in flight.
 */
export class Store {
  private readonly db: Level<string, string>
  private readonly open = new Map<string, StoredPackage>()

  private constructor(db: Level<string, string>) {
    this.db = db
  }

  static async open(dbDir: string): Promise<Store> {
    mkdirSync(dbDir, { recursive: true })
    const db = new Level<string, string>(dbDir)
    await db.open()
    return new Store(db)
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((p) => p.close()))
    this.open.clear()
    await this.db.close()
  }

  /**
   * Adds a package (or reopens it with its saved progress). `root` is where its files are:
   * a download target, preallocated here, or with `readOnly` a source served in place.
   */
  async addPackage(signed: SignedManifest, root: string, options: { readOnly?: boolean } = {}): Promise<StoredPackage> {
    const id = signed.packageId
    const record: PackageRecord = { root, readOnly: options.readOnly ?? false }
    await this.db.batch([
      { type: 'put', key: `manifest:${id}`, value: signed.canonical },
      { type: 'put', key: `package:${id}`, value: JSON.stringify(record) },
    ])
    if (!record.readOnly) {
      try {
        preallocate(root, signed.manifest)
      } catch (err) {
        throw ioError(err, `cannot create the files of ${signed.manifest.name}@${signed.manifest.version} under ${root}`)
      }
    }
    const pkg = new StoredPackage(this, signed, record, await this.loadHave(id, signed.manifest.pieces.length))
    this.open.set(id, pkg)
    return pkg
  }

  /** A package added earlier (by this process or a previous one). */
  async getPackage(id: string): Promise<StoredPackage | undefined> {
    const cached = this.open.get(id)
    if (cached !== undefined) return cached
    const [canonical, recordText] = await this.db.getMany([`manifest:${id}`, `package:${id}`])
    if (canonical === undefined || recordText === undefined) return undefined
    const signed = parseManifest(canonical)
    const record = JSON.parse(recordText) as PackageRecord
    if (record.movingTo !== undefined) {
      // Interrupted move: the rename either happened or it did not.
      if (!existsSync(record.root) && existsSync(record.movingTo)) record.root = record.movingTo
      delete record.movingTo
      await this.saveRecord(id, record)
    }
    const pkg = new StoredPackage(this, signed, record, await this.loadHave(id, signed.manifest.pieces.length))
    this.open.set(id, pkg)
    return pkg
  }

  /**
   * Forgets a package: its manifest, progress and chunk index entries, and (unless served
   * in place from a source) its files.
   */
  async removePackage(id: string): Promise<void> {
    const pkg = await this.getPackage(id)
    if (pkg === undefined) return
    await pkg.close()
    this.open.delete(id)
    const ops: Array<{ type: 'del', key: string }> = [`manifest:${id}`, `package:${id}`, `have:${id}`].map((key) => ({ type: 'del', key }))
    // Index entries that point into this package (another package may hold the same chunk).
    const locations = Array.from({ length: pkg.pieceCount }, (_, piece) => pkg.chunkLocations(piece)).flat()
    const indexed = await this.db.getMany(locations.map((l) => `chunk:${l.hash}`))
    locations.forEach((l, i) => {
      if (indexed[i] !== undefined && (JSON.parse(indexed[i]!) as ChunkLocation).path === l.location.path) ops.push({ type: 'del', key: `chunk:${l.hash}` })
    })
    await this.db.batch(ops)
    if (!pkg.readOnly) rmSync(pkg.root, { recursive: true, force: true })
  }

  /** Small JSON records of other modules (deployment state), by kind and key. */
  async putRecord(kind: string, key: string, value: unknown): Promise<void> {
    await this.db.put(`record:${kind}:${key}`, JSON.stringify(value))
  }

  async deleteRecord(kind: string, key: string): Promise<void> {
    await this.db.del(`record:${kind}:${key}`)
  }

  async records<T>(kind: string): Promise<Array<[key: string, value: T]>> {
    const prefix = `record:${kind}:`
    const out: Array<[string, T]> = []
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: `${prefix}\xff` })) out.push([k.slice(prefix.length), JSON.parse(v) as T])
    return out
  }

  /** @internal */
  async saveRecord(id: string, record: PackageRecord): Promise<void> {
    await this.db.put(`package:${id}`, JSON.stringify(record))
  }

  /** Ids of every package added to this store, by this process or an earlier one. */
  async packageIds(): Promise<string[]> {
    const ids: string[] = []
    for await (const key of this.db.keys({ gte: 'package:', lt: 'package;' })) ids.push(key.slice('package:'.length))
    return ids
  }

  /** Where this node already holds a chunk with this SHA-256 (hex), in any package. */
  async findChunk(hash: string): Promise<ChunkLocation | undefined> {
    return (await this.findChunks([hash]))[0]
  }

  /** findChunk for many hashes in one read of the index. */
  async findChunks(hashes: readonly string[]): Promise<Array<ChunkLocation | undefined>> {
    const texts = await this.db.getMany(hashes.map((h) => `chunk:${h}`))
    return texts.map((t) => (t === undefined ? undefined : JSON.parse(t) as ChunkLocation))
  }

  /** @internal persist the bitfield and index the pieces' chunks, once their bytes are on disk. */
  async recordPieces(pkg: StoredPackage, pieces: readonly number[], have: Bitfield): Promise<void> {
    const ops: Array<{ type: 'put', key: string, value: string }> = [
      { type: 'put', key: `have:${pkg.packageId}`, value: Buffer.from(have.bytes).toString('base64') },
    ]
    for (const piece of pieces) {
      for (const loc of pkg.chunkLocations(piece)) ops.push({ type: 'put', key: `chunk:${loc.hash}`, value: JSON.stringify(loc.location) })
    }
    await this.db.batch(ops)
  }

  private async loadHave(id: string, pieces: number): Promise<Bitfield> {
    const text = await this.db.get(`have:${id}`)
    return new Bitfield(pieces, text === undefined ? undefined : Buffer.from(text, 'base64'))
  }
}

/** One package in a store: its pieces, which of them are here, and their bytes. */
export class StoredPackage {
  readonly manifest: Manifest
  readonly packageId: string
  readonly signed: SignedManifest
  readonly readOnly: boolean
  readonly have: Bitfield
  private record: PackageRecord
  private readonly store: Store
  private readonly handles = new Map<number, Promise<FileHandle>>()
  private readonly unflushed: number[] = []
  private unflushedBytes = 0
  private flushTimer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()

  constructor(store: Store, signed: SignedManifest, record: PackageRecord, have: Bitfield) {
    this.store = store
    this.signed = signed
    this.manifest = signed.manifest
    this.packageId = signed.packageId
    this.record = record
    this.readOnly = record.readOnly
    this.have = have
  }

  /** Where the package's files are. */
  get root(): string {
    return this.record.root
  }

  /** Bytes of the pieces present. */
  get presentBytes(): number {
    return this.manifest.pieces.reduce((n, p, i) => n + (this.have.get(i) ? p.length : 0), 0)
  }

  /**
   * Moves the package's files to `root` (one rename: the directory appears whole) and
   * points the chunk index there. Crash-safe: see PackageRecord.movingTo.
   */
  async moveTo(root: string): Promise<void> {
    if (this.readOnly) throw new TypeError(`${this.manifest.name}@${this.manifest.version} is served in place and cannot be moved`)
    if (root === this.root) return
    await this.close()
    await this.store.saveRecord(this.packageId, { ...this.record, movingTo: root })
    try {
      rmSync(root, { recursive: true, force: true }) // a leftover of an earlier attempt: never whole
      mkdirSync(dirname(root), { recursive: true })
      renameSync(this.root, root)
    } catch (err) {
      await this.store.saveRecord(this.packageId, this.record)
      throw ioError(err, `cannot move ${this.manifest.name}@${this.manifest.version} to ${root}`)
    }
    this.record = { root, readOnly: false }
    await this.store.saveRecord(this.packageId, this.record)
    await this.store.recordPieces(this, Array.from({ length: this.pieceCount }, (_, i) => i).filter((i) => this.have.get(i)), this.have)
  }

  /**
   * Marks pieces missing (found bad on disk) so they are fetched again; files that went
   * missing or changed size are recreated at their size first.
   */
  async markMissing(pieces: Iterable<number>): Promise<void> {
    if (this.readOnly) throw new TypeError(`${this.manifest.name}@${this.manifest.version} is served in place and cannot be repaired`)
    await this.close()
    try {
      preallocate(this.root, this.manifest)
    } catch (err) {
      throw ioError(err, `cannot recreate the files of ${this.manifest.name}@${this.manifest.version} under ${this.root}`)
    }
    for (const piece of pieces) this.have.set(piece, false)
    await this.store.recordPieces(this, [], this.have)
  }

  get pieceCount(): number {
    return this.manifest.pieces.length
  }

  get complete(): boolean {
    return this.have.full()
  }

  pieceLength(piece: number): number {
    return this.manifest.pieces[piece]!.length
  }

  /** A block of a piece this node has. */
  readBlock(piece: number, offset: number, length: number): Buffer {
    const p = this.manifest.pieces[piece]
    if (p === undefined || !this.have.get(piece) || offset + length > p.length) throw new RangeError(`no such block ${piece}/${offset}+${length}`)
    return readExactly(filePath(this.root, this.manifest, p.file), p.offset + offset, length)
  }

  /** Indexes (within the manifest's chunk table) of chunks of `data` that do not match. */
  badChunks(piece: number, data: Uint8Array): number[] {
    const p = this.manifest.pieces[piece]!
    const { sizes, hashes } = this.manifest.chunks
    const bad: number[] = []
    let at = 0
    for (let k = p.firstChunk; k < p.firstChunk + p.chunkCount; k++) {
      const digest = createHash('sha256').update(data.subarray(at, at + sizes[k]!)).digest()
      if (at + sizes[k]! > data.length || !digest.equals(hashes.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES))) bad.push(k)
      at += sizes[k]!
    }
    return bad
  }

  /**
   * Writes a verified piece at its offset (off the main thread). It is readable, and `have`
   * says so, at once; it is saved as present only once flushed to disk, in batches of
   * FLUSH_BYTES (or after FLUSH_DELAY_MS, or on completion), so a crash loses at most the
   * last batch and never marks a piece that is not on disk.
   */
  async writePiece(piece: number, data: Uint8Array): Promise<void> {
    const p = this.manifest.pieces[piece]!
    if (this.readOnly) throw new TypeError(`${this.manifest.name}@${this.manifest.version} is served in place and cannot be written`)
    if (data.length !== p.length) throw new RangeError(`piece ${piece} is ${p.length} bytes, got ${data.length}`)
    try {
      const fh = await this.handle(p.file)
      for (let done = 0; done < data.length;) done += (await fh.write(data, done, data.length - done, p.offset + done)).bytesWritten
    } catch (err) {
      throw ioError(err, `cannot write piece ${piece} of ${this.manifest.name}@${this.manifest.version} to ${this.root}`)
    }
    this.have.set(piece)
    this.unflushed.push(piece)
    this.unflushedBytes += data.length
    if (this.unflushedBytes >= FLUSH_BYTES || this.complete) await this.flush()
    else this.flushTimer ??= setTimeout(() => { void this.flush().catch(() => {}) }, FLUSH_DELAY_MS)
  }

  /** Flushes written pieces to disk, then saves them as present (one flush at a time). */
  flush(): Promise<void> {
    const next = this.flushing.then(() => this.flushNow())
    this.flushing = next.catch(() => {})
    return next
  }

  private async flushNow(): Promise<void> {
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    const pieces = this.unflushed.splice(0)
    this.unflushedBytes = 0
    if (pieces.length === 0) return
    try {
      await Promise.all([...this.handles.values()].map(async (h) => (await h).datasync()))
    } catch (err) {
      for (const piece of pieces) this.have.set(piece, false) // not known to be on disk
      throw ioError(err, `cannot flush ${this.manifest.name}@${this.manifest.version} to ${this.root}`)
    }
    const saved = new Bitfield(this.have.length, this.have.bytes)
    for (const piece of this.unflushed) saved.set(piece, false) // written meanwhile, not yet flushed
    await this.store.recordPieces(this, pieces, saved)
  }

  /** Marks pieces present without writing (a source checked in place, or data already on disk). */
  async markPresent(pieces: Iterable<number>): Promise<void> {
    const list = [...pieces]
    for (const piece of list) this.have.set(piece)
    await this.store.recordPieces(this, list, this.have)
  }

  /** Flushes what was written and closes the files. */
  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      const handles = [...this.handles.values()]
      this.handles.clear()
      await Promise.all(handles.map(async (h) => (await h).close().catch(() => {})))
    }
  }

  private handle(file: number): Promise<FileHandle> {
    let h = this.handles.get(file)
    if (h === undefined) {
      h = open(filePath(this.root, this.manifest, file), 'r+')
      h.catch(() => this.handles.delete(file))
      this.handles.set(file, h)
    }
    return h
  }

  /** @internal chunk hash → location, for the chunk index. */
  chunkLocations(piece: number): Array<{ hash: string, location: ChunkLocation }> {
    const p = this.manifest.pieces[piece]!
    const { sizes } = this.manifest.chunks
    const path = filePath(this.root, this.manifest, p.file)
    const out: Array<{ hash: string, location: ChunkLocation }> = []
    let offset = p.offset
    for (let k = p.firstChunk; k < p.firstChunk + p.chunkCount; k++) {
      out.push({ hash: chunkHash(this.manifest.chunks, k), location: { path, offset, length: sizes[k]! } })
      offset += sizes[k]!
    }
    return out
  }
}

function ioError(err: unknown, what: string): PeerstageError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new PeerstageError(StoreErrorCodes.DISK_FULL, `${what}: the disk is full (${code}); free space and run again, nothing was lost`, { cause: err })
  }
  return new PeerstageError(StoreErrorCodes.IO, `${what}: ${(err as Error).message}`, { cause: err })
}
