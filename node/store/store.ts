import { existsSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { Level } from 'level'
import { parseManifest, type SignedManifest } from '../../chunker/index.ts'
import { Bitfield } from './bitfield.ts'
import { dataDirError, ioError, StoreErrorCodes } from './errors.ts'
import { makeDataDir, PeerstageError } from '../../common/index.ts'
import { localPath, packagePathProblem } from '../platform.ts'
import { moveFiles } from './move.ts'
import { checkNodeStoreFormat } from './format.ts'
import { preallocate } from './package-files.ts'
import { StoredPackage, type ChunkLocation, type PackageRecord, type StoredManifest, type StoreInit, STORE_DEFAULTS } from './package.ts'

/** Chunk index entries written (or removed) per level batch: bounded, so memory does not grow with the package. */
const INDEX_SLICE_CHUNKS = 4096

/**
 * A chunk index entry (`chunk:HASH`): the package and its file, not a path, so moving a
 * package's files (fetch delivering into --out, a client into packages/) rewrites none of
 * them: a 10 GiB fetch rewrote 160,000 as it ended, +85 MiB of RSS. Format 1 stored the
 * absolute path (a ChunkLocation); such entries are still read as they are.
 */
interface IndexEntry {
  pkg: string
  /** The file's path in the manifest. */
  file: string
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
  /** Packages being reopened (and rechecked): a second caller waits for the same one. */
  private readonly opening = new Map<string, Promise<StoredPackage | undefined>>()

  private readonly init: StoreInit

  private constructor(db: Level<string, string>, init: StoreInit) {
    this.db = db
    this.init = init
  }

  /** Throws PEERSTAGE_NODE_STORE_DATA_DIR when `dbDir` is locked by another node, damaged, read-only or not a directory. */
  static async open(dbDir: string, init: StoreInit = {}): Promise<Store> {
    const db = new Level<string, string>(dbDir)
    try {
      makeDataDir(dbDir)
      await db.open()
    } catch (err) {
      throw dataDirError(dbDir, err)
    }
    try {
      await checkNodeStoreFormat(db, dbDir)
    } catch (err) {
      await db.close()
      throw err
    }
    return new Store(db, init)
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((p) => p.close()))
    this.open.clear()
    await this.db.close()
  }

  /**
   * Adds a package (or reopens it with its saved progress). `root` is where its files are:
   * a download target, preallocated here, or with `readOnly` a source served in place.
   * Progress saved for another root is checked against the files under this one.
   */
  async addPackage(signed: SignedManifest | StoredManifest, root: string, options: { readOnly?: boolean } = {}): Promise<StoredPackage> {
    const id = signed.packageId
    // A StoredManifest (a stored package's, without its text) names a manifest saved here already.
    const canonical = 'canonical' in signed ? signed.canonical : undefined
    if (canonical === undefined && await this.db.get(`manifest:${id}`) === undefined) throw new TypeError(`package ${id} is not in this store: add it with its canonical manifest`)
    const readOnly = options.readOnly ?? false
    if (!readOnly) {
      // Refused before anything is recorded or made: on Windows a file named CON is the console.
      const unwritable = packagePathProblem(signed.manifest.files.map((f) => f.path), { longPaths: signed.manifest.longPaths === true }, this.init.platform ?? STORE_DEFAULTS.platform)
      if (unwritable !== undefined) {
        throw new PeerstageError(StoreErrorCodes.PATH_UNWRITABLE, `${signed.manifest.name}@${signed.manifest.version} cannot be written on this system: ${unwritable.path}: ${unwritable.rule}; pack it again with names Windows allows`, { details: { path: unwritable.path } })
      }
    }
    await this.opening.get(id)
    const cached = this.open.get(id)
    if (cached !== undefined && (cached.root !== root || cached.readOnly !== readOnly)) {
      await cached.close()
      this.open.delete(id)
    }
    const saved = cached === undefined ? await this.loadRecord(id, signed) : undefined
    const record: PackageRecord = saved !== undefined && saved.root === root && saved.readOnly === readOnly ? saved : { root, readOnly }
    await this.db.batch([
      ...(canonical === undefined ? [] : [{ type: 'put' as const, key: `manifest:${id}`, value: canonical }]),
      { type: 'put', key: `package:${id}`, value: JSON.stringify(record) },
    ])
    if (!readOnly) {
      try {
        preallocate(root, signed.manifest)
      } catch (err) {
        throw ioError(err, `cannot create the files of ${signed.manifest.name}@${signed.manifest.version} under ${root}`)
      }
    }
    if (cached !== undefined && cached.root === root && cached.readOnly === readOnly) return cached
    return this.opened(signed, record, true)
  }

  /** The canonical signed manifest of a stored package, as it was added (hash it for the id). */
  async manifestText(id: string): Promise<string | undefined> {
    return this.db.get(`manifest:${id}`)
  }

  /** A package added earlier (by this process or a previous one). */
  async getPackage(id: string): Promise<StoredPackage | undefined> {
    const cached = this.open.get(id)
    if (cached !== undefined) return cached
    let opening = this.opening.get(id)
    if (opening === undefined) {
      opening = this.reopen(id, true).finally(() => this.opening.delete(id))
      this.opening.set(id, opening)
    }
    return opening
  }

  private async reopen(id: string, recheck: boolean): Promise<StoredPackage | undefined> {
    const canonical = await this.db.get(`manifest:${id}`)
    if (canonical === undefined) return undefined
    const signed = parseManifest(canonical)
    const record = await this.loadRecord(id, signed)
    return record === undefined ? undefined : this.opened(signed, record, recheck)
  }

  /** A saved package record, with a move a crash interrupted finished or forgotten. */
  private async loadRecord(id: string, signed: StoredManifest): Promise<PackageRecord | undefined> {
    const text = await this.db.get(`package:${id}`)
    if (text === undefined) return undefined
    const record = JSON.parse(text) as PackageRecord
    if (record.movingTo === undefined && record.leftover === undefined) return record
    if (record.movingTo !== undefined && record.filesOnly === true) {
      // Only verified files move this way: finish. Failing that, the files left are rechecked.
      try {
        await moveFiles(signed.manifest, record.root, record.movingTo)
        record.leftover = record.root
        record.root = record.movingTo
      } catch {
        // stays at root
      }
    } else if (record.movingTo !== undefined && !existsSync(record.root) && existsSync(record.movingTo)) {
      record.root = record.movingTo // the rename happened
    }
    if (record.leftover !== undefined) await rm(record.leftover, { recursive: true, force: true })
    delete record.movingTo
    delete record.filesOnly
    delete record.leftover
    await this.saveRecord(id, record)
    return record
  }

  /** Opens a package's record; one written to is rechecked where its files changed since. */
  private async opened(signed: StoredManifest, record: PackageRecord, recheck: boolean): Promise<StoredPackage> {
    const pkg = new StoredPackage(this, signed, record, await this.loadHave(signed.packageId, signed.manifest.pieces.length), this.init)
    if (recheck && !record.readOnly) await pkg.recheckChangedFiles()
    this.open.set(signed.packageId, pkg)
    return pkg
  }

  /**
   * Forgets a package: its manifest, progress and chunk index entries, and (unless served
   * in place from a source) its files. Returns what was removed (closed), if it was there.
   */
  async removePackage(id: string): Promise<StoredPackage | undefined> {
    await this.opening.get(id)
    // Until the records are gone, getPackage waits and answers undefined: a reader in
    // between would otherwise reopen the package and keep it cached after its removal.
    const removal = this.remove(id)
    const gone = removal.then(() => undefined, () => undefined)
    this.opening.set(id, gone)
    try {
      return await removal
    } finally {
      if (this.opening.get(id) === gone) this.opening.delete(id)
    }
  }

  private async remove(id: string): Promise<StoredPackage | undefined> {
    const pkg = this.open.get(id) ?? await this.reopen(id, false) // no point hashing what is deleted
    if (pkg === undefined) return undefined
    this.open.delete(id)
    await pkg.close()
    // The records first: a crash after them leaves index entries, which a reader checks anyway.
    await this.db.batch([`manifest:${id}`, `package:${id}`, `have:${id}`].map((key) => ({ type: 'del', key })))
    // Index entries that point into this package (another package may hold the same chunk).
    for (const locations of this.indexSlices(pkg, Array.from({ length: pkg.pieceCount }, (_, piece) => piece))) {
      const indexed = await this.db.getMany(locations.map((l) => `chunk:${l.hash}`))
      const ops = locations.flatMap((l, i) => {
        const entry = indexed[i] === undefined ? undefined : JSON.parse(indexed[i]!) as IndexEntry | ChunkLocation
        const ours = entry !== undefined && ('pkg' in entry ? entry.pkg === id : entry.path === l.location.path)
        return ours ? [{ type: 'del' as const, key: `chunk:${l.hash}` }] : []
      })
      if (ops.length > 0) await this.db.batch(ops)
    }
    if (!pkg.readOnly) rmSync(pkg.root, { recursive: true, force: true })
    return pkg
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
    const entries = texts.map((t) => (t === undefined ? undefined : JSON.parse(t) as IndexEntry | ChunkLocation))
    const ids = new Set(entries.flatMap((e) => (e !== undefined && 'pkg' in e ? [e.pkg] : [])))
    const roots = new Map(await Promise.all([...ids].map(async (id) => [id, await this.rootOf(id)] as const)))
    return entries.map((e) => {
      if (e === undefined || !('pkg' in e)) return e
      const root = roots.get(e.pkg)
      return root === undefined ? undefined : { path: localPath(root, e.file), offset: e.offset, length: e.length }
    })
  }

  /** Where a package's files are now; undefined once it is removed. */
  private async rootOf(id: string): Promise<string | undefined> {
    const open = this.open.get(id)
    if (open !== undefined) return open.root
    const text = await this.db.get(`package:${id}`)
    return text === undefined ? undefined : (JSON.parse(text) as PackageRecord).root
  }

  /** @internal persist the bitfield (and the record: its file stamps) and index the pieces' chunks, once their bytes are on disk. */
  async recordPieces(pkg: StoredPackage, pieces: readonly number[], have: Bitfield, record?: PackageRecord): Promise<void> {
    // The index before the have bits, in slices: a DP marking a 10^6-chunk package present
    // wrote one batch of 10^6 entries, ~1 KB of RSS a chunk that stayed. An entry ahead of
    // its have bit is harmless: the piece's bytes are on disk already.
    for (const locations of this.indexSlices(pkg, pieces)) {
      await this.db.batch(locations.map(({ hash, file, location: { offset, length } }) => {
        const entry: IndexEntry = { pkg: pkg.packageId, file: pkg.manifest.files[file]!.path, offset, length }
        return { type: 'put' as const, key: `chunk:${hash}`, value: JSON.stringify(entry) }
      }))
    }
    const ops: Array<{ type: 'put', key: string, value: string }> = [
      { type: 'put', key: `have:${pkg.packageId}`, value: Buffer.from(have.bytes).toString('base64') },
    ]
    if (record !== undefined) ops.push({ type: 'put', key: `package:${pkg.packageId}`, value: JSON.stringify(record) })
    await this.db.batch(ops)
  }

  /** The chunk locations of these pieces, about INDEX_SLICE_CHUNKS at a time (whole pieces). */
  private *indexSlices(pkg: StoredPackage, pieces: readonly number[]): Generator<ReturnType<StoredPackage['chunkLocations']>> {
    let slice: ReturnType<StoredPackage['chunkLocations']> = []
    for (const piece of pieces) {
      for (const loc of pkg.chunkLocations(piece)) slice.push(loc)
      if (slice.length >= INDEX_SLICE_CHUNKS) {
        yield slice
        slice = []
      }
    }
    if (slice.length > 0) yield slice
  }

  private async loadHave(id: string, pieces: number): Promise<Bitfield> {
    const text = await this.db.get(`have:${id}`)
    return new Bitfield(pieces, text === undefined ? undefined : Buffer.from(text, 'base64'))
  }
}
