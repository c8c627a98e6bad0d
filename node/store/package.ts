import { createHash } from 'node:crypto'
import { open, rm, type FileHandle } from 'node:fs/promises'
import { systemClock, type Clock } from '../../bandwidth/index.ts'
import { chunkHash, HASH_BYTES, type Manifest, type SignedManifest } from '../../chunker/index.ts'
import { takeFrame } from '../block-pool.ts'
import { Bitfield } from './bitfield.ts'
import { ioError } from './errors.ts'
import { moveDirectory, moveFiles } from './move.ts'
import { filePath, preallocate, readExactly, sameStamp, stampOf, type FileStamp } from './package-files.ts'
import { badPresentPieces } from './recheck.ts'
import type { Store } from './store.ts'
import type { Platform } from '../platform.ts'

export interface StoreInit {
  /** Pieces are flushed to disk (and saved as present) in batches of this many bytes… @default 32 MiB */
  flushBytes?: number
  /** …or this long after the first unflushed write. @default 250 */
  flushDelayMs?: number
  /** Times flushDelayMs. @default systemClock */
  clock?: Clock
  /** Whose file-name rules a package's paths must meet before any file is made (node/platform.ts). @default process.platform */
  platform?: Platform
}

/** StoreInit's defaults, in one place. */
export const STORE_DEFAULTS = {
  flushBytes: 32 * 1024 * 1024,
  flushDelayMs: 250,
  clock: systemClock,
  platform: process.platform,
} as const satisfies Required<StoreInit>

/** @internal what the store keeps per package besides its manifest and have-bitfield. */
export interface PackageRecord {
  root: string
  /** Served in place from its source: never written to. */
  readOnly: boolean
  /** Set while the files move here: a crash mid-move is finished (or forgotten) on reopen. */
  movingTo?: string
  /** With movingTo: only the files move, into a directory that holds other things (fetch's --out); finished on reopen. */
  filesOnly?: boolean
  /** Where the files were before a move that copied them: deleted, again on reopen if a crash left it. */
  leftover?: string
  /**
   * Per manifest file, its size and mtime when its pieces were last flushed (or checked):
   * on reopen, the present pieces of a file that differs are hashed again, not trusted.
   */
  files?: FileStamp[]
}

/** Where a chunk's bytes already are on this node. */
export interface ChunkLocation {
  path: string
  offset: number
  length: number
}

/**
 * A stored package's manifest and id, without the canonical text: that is megabytes for a
 * big package (50 bytes a chunk) and stays in level, where Store.manifestText reads it.
 */
export type StoredManifest = Omit<SignedManifest, 'canonical'>

/** One package in a store: its pieces, which of them are here, and their bytes. */
export class StoredPackage {
  readonly manifest: Manifest
  readonly packageId: string
  readonly signed: StoredManifest
  readonly readOnly: boolean
  readonly have: Bitfield
  private record: PackageRecord
  private readonly store: Store
  private readonly handles = new Map<number, Promise<FileHandle>>()
  private readonly unflushed: number[] = []
  private unflushedBytes = 0
  /** Cancels the pending delayed flush. */
  private cancelFlushTimer: (() => void) | undefined
  private readonly init: Required<StoreInit>
  private flushing: Promise<void> = Promise.resolve()
  /** Flushes asked for and not yet settled (queued or running). */
  private flushesPending = 0
  /** A flush that failed behind the writes: the next write or completion reports it. */
  private flushFailure: Error | undefined
  /** Per file, pieces written here and not yet stamped: its size and mtime move by our own hand. */
  private readonly ownWrites = new Map<number, number>()
  /** The re-check of edited files under way: uploads wait for it rather than start another. */
  private rechecking: Promise<number[]> | undefined

  constructor(store: Store, signed: StoredManifest, record: PackageRecord, have: Bitfield, init: StoreInit = {}) {
    this.init = { ...STORE_DEFAULTS, ...init }
    this.store = store
    this.signed = { manifest: signed.manifest, packageId: signed.packageId }
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
   * Moves the package's files to `root` and points the chunk index there: one rename, so
   * the directory appears whole; across file systems a copy into a sibling of `root`,
   * flushed, then renamed into place. With `filesOnly`, each file moves into `root`, which
   * may hold other things (a fetch's --out). Crash-safe: see PackageRecord.movingTo.
   */
  async moveTo(root: string, options: { filesOnly?: boolean } = {}): Promise<void> {
    if (this.readOnly) throw new TypeError(`${this.manifest.name}@${this.manifest.version} is served in place and cannot be moved`)
    if (root === this.root) return
    await this.close()
    const from = this.root
    const filesOnly = options.filesOnly === true
    await this.store.saveRecord(this.packageId, { ...this.record, movingTo: root, ...(filesOnly && { filesOnly }) })
    let copied: boolean
    try {
      copied = filesOnly ? await moveFiles(this.manifest, from, root) : await moveDirectory(this.manifest, from, root)
    } catch (err) {
      await this.store.saveRecord(this.packageId, this.record)
      throw ioError(err, `cannot move ${this.manifest.name}@${this.manifest.version} to ${root}`)
    }
    // Saved before the source is deleted, so a crash in between deletes it on reopen.
    this.record = { root, readOnly: false, ...((filesOnly || copied) && { leftover: from }) }
    this.stamp(this.manifest.files.keys())
    await this.store.saveRecord(this.packageId, this.record) // the chunk index names the package, not the path: nothing to rewrite
    if (this.record.leftover !== undefined) {
      await rm(from, { recursive: true, force: true })
      delete this.record.leftover
      await this.store.saveRecord(this.packageId, this.record)
    }
  }

  /**
   * @internal On reopen: the present pieces of files whose size or mtime changed since they
   * were last flushed (edited, truncated, replaced, or written after the last flush of a
   * killed process) are hashed again, off the main thread, and bad ones marked missing so
   * they are fetched again. Returns those pieces.
   */
  async recheckChangedFiles(): Promise<number[]> {
    const now = this.manifest.files.map((_, i) => stampOf(filePath(this.root, this.manifest, i)))
    // A file we are writing changes by our hand; its present pieces are not what we write.
    const changed = new Set(now.flatMap((s, i) => (sameStamp(this.record.files?.[i], s) || this.ownWrites.has(i) ? [] : [i])))
    if (changed.size === 0) return []
    const bad = await badPresentPieces(this.manifest, this.root, this.have, changed)
    if (bad.length > 0) {
      await this.markMissing(bad)
    } else {
      this.stamp(changed)
      await this.store.saveRecord(this.packageId, this.record)
    }
    return bad
  }

  /** Takes the current size and mtime of these files (manifest indexes) into the record. */
  private stamp(files: Iterable<number>): void {
    const stamps = this.record.files ?? this.manifest.files.map(() => null)
    for (const f of files) stamps[f] = stampOf(filePath(this.root, this.manifest, f))
    this.record.files = stamps
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
    this.stamp(this.manifest.files.keys()) // preallocate may have changed some
    await this.store.recordPieces(this, [], this.have, this.record)
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

  /**
   * A block to upload (undefined when its piece is not, or no longer, here), and the pieces
   * found bad on the way. The files are served from where a deployment's program runs, and
   * a program may edit them: when a file's size or mtime differs from its stamp (taken when
   * its pieces were last flushed or checked), its present pieces are hashed again first
   * (recheckChangedFiles), the bad ones marked missing, to be fetched again, and never
   * served. The stamp is compared before and after the read, so an edit during the read is
   * caught too; a file edited again and again is not served at all.
   */
  async blockToServe(piece: number, offset: number, length: number): Promise<{ block: Buffer | undefined, lost: number[] }> {
    const file = this.manifest.pieces[piece]?.file
    const lost: number[] = []
    for (let attempt = 0; attempt < 2 && file !== undefined; attempt++) {
      if (!this.have.get(piece)) break
      if (this.unchangedOnDisk(file)) {
        const block = this.readBlock(piece, offset, length)
        if (this.unchangedOnDisk(file)) return { block, lost }
      }
      lost.push(...await this.recheckEdits())
    }
    return { block: undefined, lost }
  }

  /** Re-checks files changed on disk (not by us), one re-check at a time; returns the pieces found bad. */
  recheckEdits(): Promise<number[]> {
    this.rechecking ??= this.recheckChangedFiles().finally(() => { this.rechecking = undefined })
    return this.rechecking
  }

  /** A file served in place, being written by us, or with the size and mtime of its stamp. */
  private unchangedOnDisk(file: number): boolean {
    if (this.readOnly || this.ownWrites.has(file)) return true
    return sameStamp(this.record.files?.[file], stampOf(filePath(this.root, this.manifest, file)))
  }

  private countOwnWrite(file: number, n: 1 | -1): void {
    const left = (this.ownWrites.get(file) ?? 0) + n
    if (left > 0) this.ownWrites.set(file, left)
    else this.ownWrites.delete(file)
  }

  /**
   * A block of a piece this node has, in a buffer of the block pool (node/block-pool.ts):
   * whoever sends it may give it back once it is written (a fresh 128 KiB per block served
   * was garbage to collect and new memory to fault in).
   */
  readBlock(piece: number, offset: number, length: number): Buffer {
    const p = this.manifest.pieces[piece]
    if (p === undefined || !this.have.get(piece) || offset + length > p.length) throw new RangeError(`no such block ${piece}/${offset}+${length}`)
    return readExactly(filePath(this.root, this.manifest, p.file), p.offset + offset, length, takeFrame(length))
  }

  /**
   * Indexes (within the manifest's chunk table) of chunks of `data` that do not match.
   * `data` is the piece, whole or as the runs of bytes that tile it in order (blocks as they
   * arrived: hashed where they lie, never joined).
   */
  badChunks(piece: number, data: Uint8Array | readonly Uint8Array[]): number[] {
    const p = this.manifest.pieces[piece]!
    const { sizes, hashes } = this.manifest.chunks
    const parts = data instanceof Uint8Array ? [data] : data
    const bad: number[] = []
    let part = 0
    let at = 0 // within parts[part]
    for (let k = p.firstChunk; k < p.firstChunk + p.chunkCount; k++) {
      const hash = createHash('sha256')
      let need = sizes[k]!
      while (need > 0 && part < parts.length) {
        const bytes = parts[part]!
        const n = Math.min(need, bytes.length - at)
        hash.update(bytes.subarray(at, at + n))
        need -= n
        at += n
        if (at === bytes.length) [part, at] = [part + 1, 0]
      }
      if (need > 0 || !hash.digest().equals(hashes.subarray(k * HASH_BYTES, (k + 1) * HASH_BYTES))) bad.push(k)
    }
    return bad
  }

  /**
   * Writes a verified piece at its offset (off the main thread). It is readable, and `have`
   * says so, at once; it is saved as present only once flushed to disk, in batches of
   * flushBytes (or after flushDelayMs, or on completion), so a crash loses at most the
   * last two batches and never marks a piece that is not on disk. One flush runs behind the
   * writes (a datasync of a batch stalled the whole download: the swarm writes one piece at a
   * time); a write that finds one still running waits for both.
   */
  async writePiece(piece: number, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const p = this.manifest.pieces[piece]!
    if (this.readOnly) throw new TypeError(`${this.manifest.name}@${this.manifest.version} is served in place and cannot be written`)
    this.throwFlushFailure()
    let parts = data instanceof Uint8Array ? [data] : data.filter((b) => b.length > 0)
    const length = parts.reduce((n, b) => n + b.length, 0)
    if (length !== p.length) throw new RangeError(`piece ${piece} is ${p.length} bytes, got ${length}`)
    this.countOwnWrite(p.file, 1)
    try {
      const fh = await this.handle(p.file)
      for (let done = 0; done < length;) {
        let n = (await fh.writev(parts, p.offset + done)).bytesWritten
        done += n
        // A short write: go on from the first byte not written.
        while (n > 0 && parts.length > 0) {
          if (n >= parts[0]!.length) [n, parts] = [n - parts[0]!.length, parts.slice(1)]
          else [parts, n] = [[parts[0]!.subarray(n), ...parts.slice(1)], 0]
        }
      }
    } catch (err) {
      this.countOwnWrite(p.file, -1)
      throw ioError(err, `cannot write piece ${piece} of ${this.manifest.name}@${this.manifest.version} to ${this.root}`)
    }
    this.have.set(piece)
    this.unflushed.push(piece)
    this.unflushedBytes += length
    if (this.complete) {
      await this.flush()
      this.throwFlushFailure()
    } else if (this.unflushedBytes >= this.init.flushBytes) {
      const behind = this.flushesPending > 0
      const flushed = this.flush()
      if (behind) await flushed
      else flushed.catch((err: Error) => { this.flushFailure ??= err })
    } else this.cancelFlushTimer ??= this.init.clock.setTimer(() => { void this.flush().catch(() => {}) }, this.init.flushDelayMs)
  }

  /** Flushes written pieces to disk, then saves them as present (one flush at a time). */
  flush(): Promise<void> {
    this.flushesPending++
    const next = this.flushing.then(() => this.flushNow()).finally(() => { this.flushesPending-- })
    this.flushing = next.catch(() => {})
    return next
  }

  private throwFlushFailure(): void {
    const err = this.flushFailure
    this.flushFailure = undefined
    if (err !== undefined) throw err
  }

  private async flushNow(): Promise<void> {
    this.cancelFlushTimer?.()
    this.cancelFlushTimer = undefined
    const pieces = this.unflushed.splice(0)
    this.unflushedBytes = 0
    if (pieces.length === 0) return
    try {
      await Promise.all([...this.handles.values()].map(async (h) => (await h).datasync()))
    } catch (err) {
      for (const piece of pieces) {
        this.have.set(piece, false) // not known to be on disk
        this.countOwnWrite(this.manifest.pieces[piece]!.file, -1)
      }
      throw ioError(err, `cannot flush ${this.manifest.name}@${this.manifest.version} to ${this.root}`)
    }
    const saved = new Bitfield(this.have.length, this.have.bytes)
    for (const piece of this.unflushed) saved.set(piece, false) // written meanwhile, not yet flushed
    this.stamp(new Set(pieces.map((p) => this.manifest.pieces[p]!.file)))
    for (const piece of pieces) this.countOwnWrite(this.manifest.pieces[piece]!.file, -1)
    await this.store.recordPieces(this, pieces, saved, this.record)
  }

  /** Marks pieces present without writing (a source checked in place, or data already on disk). */
  async markPresent(pieces: Iterable<number>): Promise<void> {
    const list = [...pieces]
    for (const piece of list) this.have.set(piece)
    if (!this.readOnly) this.stamp(new Set(list.map((p) => this.manifest.pieces[p]!.file)))
    await this.store.recordPieces(this, list, this.have, this.readOnly ? undefined : this.record)
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

  /** @internal chunk hash → file (manifest index) and location, for the chunk index. */
  chunkLocations(piece: number): Array<{ hash: string, file: number, location: ChunkLocation }> {
    const p = this.manifest.pieces[piece]!
    const { sizes } = this.manifest.chunks
    const path = filePath(this.root, this.manifest, p.file)
    const out: Array<{ hash: string, file: number, location: ChunkLocation }> = []
    let offset = p.offset
    for (let k = p.firstChunk; k < p.firstChunk + p.chunkCount; k++) {
      out.push({ hash: chunkHash(this.manifest.chunks, k), file: p.file, location: { path, offset, length: sizes[k]! } })
      offset += sizes[k]!
    }
    return out
  }
}
