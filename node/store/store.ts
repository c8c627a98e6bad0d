import { existsSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { Level } from 'level'
import { parseManifest, type SignedManifest } from '../../chunker/index.ts'
import { Bitfield } from './bitfield.ts'
import { dataDirError, ioError } from './errors.ts'
import { makeDataDir } from '../../common/index.ts'
import { moveFiles } from './move.ts'
import { checkNodeStoreFormat } from './format.ts'
import { preallocate } from './package-files.ts'
import { StoredPackage, type ChunkLocation, type PackageRecord, type StoreInit } from './package.ts'

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
  async addPackage(signed: SignedManifest, root: string, options: { readOnly?: boolean } = {}): Promise<StoredPackage> {
    const id = signed.packageId
    const readOnly = options.readOnly ?? false
    await this.opening.get(id)
    const cached = this.open.get(id)
    if (cached !== undefined && (cached.root !== root || cached.readOnly !== readOnly)) {
      await cached.close()
      this.open.delete(id)
    }
    const saved = cached === undefined ? await this.loadRecord(id, signed) : undefined
    const record: PackageRecord = saved !== undefined && saved.root === root && saved.readOnly === readOnly ? saved : { root, readOnly }
    await this.db.batch([
      { type: 'put', key: `manifest:${id}`, value: signed.canonical },
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
  private async loadRecord(id: string, signed: SignedManifest): Promise<PackageRecord | undefined> {
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
  private async opened(signed: SignedManifest, record: PackageRecord, recheck: boolean): Promise<StoredPackage> {
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
    const ops: Array<{ type: 'del', key: string }> = [`manifest:${id}`, `package:${id}`, `have:${id}`].map((key) => ({ type: 'del', key }))
    // Index entries that point into this package (another package may hold the same chunk).
    const locations = Array.from({ length: pkg.pieceCount }, (_, piece) => pkg.chunkLocations(piece)).flat()
    const indexed = await this.db.getMany(locations.map((l) => `chunk:${l.hash}`))
    locations.forEach((l, i) => {
      if (indexed[i] !== undefined && (JSON.parse(indexed[i]!) as ChunkLocation).path === l.location.path) ops.push({ type: 'del', key: `chunk:${l.hash}` })
    })
    await this.db.batch(ops)
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
    return texts.map((t) => (t === undefined ? undefined : JSON.parse(t) as ChunkLocation))
  }

  /** @internal persist the bitfield (and the record: its file stamps) and index the pieces' chunks, once their bytes are on disk. */
  async recordPieces(pkg: StoredPackage, pieces: readonly number[], have: Bitfield, record?: PackageRecord): Promise<void> {
    const ops: Array<{ type: 'put', key: string, value: string }> = [
      { type: 'put', key: `have:${pkg.packageId}`, value: Buffer.from(have.bytes).toString('base64') },
    ]
    if (record !== undefined) ops.push({ type: 'put', key: `package:${pkg.packageId}`, value: JSON.stringify(record) })
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
