import { Level } from 'level'
import { diagnoseDataDir, makeDataDir, type PeerstageError } from '../../common/index.ts'
import { checkTrackerFormat } from './format.ts'
import { TrackerErrorCodes, trackerError } from '../protocol/index.ts'
import { addFields } from './add.ts'
import { STORE_KINDS, type StoreKind, type StoreOp, type StoredRecord, type TrackerStore } from './types.ts'

/** `kind!key` → JSON; `!` sorts before every key character we use, so kinds list by range. */
const keyOf = (kind: StoreKind, key: string): string => `${kind}!${key}`

/** Where the format mark lives: `meta` is no StoreKind, so no kind's range holds it. */
export const LEVEL_FORMAT_KEY = 'meta!format'

/** The embedded default: a LevelDB directory on the tracker's disk. */
export class LevelTrackerStore implements TrackerStore {
  private readonly db: Level<string, string>
  /** The last write: an `add` reads before it writes, so writes go one at a time. */
  private writing: Promise<void> = Promise.resolve()

  private constructor(db: Level<string, string>) {
    this.db = db
  }

  /** Throws PEERSTAGE_TRACKER_DATA_DIR when `dir` is locked, damaged, read-only or not a directory. */
  static async open(dir: string): Promise<LevelTrackerStore> {
    const db = new Level<string, string>(dir, { valueEncoding: 'utf8' })
    try {
      makeDataDir(dir)
      await db.open()
    } catch (err) {
      throw dataDirError(dir, err)
    }
    try {
      await checkTrackerFormat(db, LEVEL_FORMAT_KEY, { what: `the state directory ${dir}`, elsewhere: 'another --data', details: { dir } })
    } catch (err) {
      await db.close()
      throw err
    }
    return new LevelTrackerStore(db)
  }

  async write(ops: readonly StoreOp[]): Promise<void> {
    if (ops.length === 0) return
    const write = this.writing.then(() => this.apply(ops))
    this.writing = write.catch(() => {})
    return write
  }

  /** One level batch holding each key's last value; what `add`s start from is read first. */
  private async apply(ops: readonly StoreOp[]): Promise<void> {
    const added = [...new Set(ops.filter((op) => op.type === 'add').map((op) => keyOf(op.kind, op.key)))]
    const staged = new Map<string, string | undefined>()
    const current = await this.db.getMany(added)
    added.forEach((k, i) => staged.set(k, current[i]))
    for (const op of ops) {
      const k = keyOf(op.kind, op.key)
      staged.set(k, op.type === 'put' ? JSON.stringify(op.value)
        : op.type === 'add' ? addFields(staged.get(k), op.value, `${op.kind} ${op.key}`)
          : undefined)
    }
    await this.db.batch([...staged].map(([key, value]) => (value === undefined
      ? { type: 'del' as const, key }
      : { type: 'put' as const, key, value })))
  }

  async list(kind: StoreKind): Promise<Array<[string, unknown]>> {
    const out: Array<[string, unknown]> = []
    const prefix = `${kind}!`
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: `${kind}"` })) out.push([k.slice(prefix.length), JSON.parse(v)])
    return out
  }

  /** One iterator over the whole store: level reads it from a snapshot taken when it is made. */
  async* dump(): AsyncIterable<StoredRecord> {
    const kinds = new Set<string>(STORE_KINDS)
    for await (const [k, json] of this.db.iterator()) {
      const cut = k.indexOf('!')
      const kind = k.slice(0, cut)
      if (cut > 0 && kinds.has(kind)) yield { kind: kind as StoreKind, key: k.slice(cut + 1), json }
    }
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}

/** The tracker's error for a directory level cannot open: what is wrong, and what to do. */
export function dataDirError(dir: string, err: unknown): PeerstageError {
  const { problem, message } = diagnoseDataDir(dir, err, { what: 'the state directory', who: 'the tracker', running: 'a tracker', stop: 'that tracker' })
  return trackerError(TrackerErrorCodes.DATA_DIR, message, { cause: err, details: { dir, problem } })
}
