import { Level } from 'level'
import { diagnoseDataDir, makeDataDir, type PeerstageError } from '../../common/index.ts'
import { TrackerErrorCodes, trackerError } from '../protocol/index.ts'
import type { StoreKind, StoreOp, TrackerStore } from './types.ts'

/** `kind!key` → JSON; `!` sorts before every key character we use, so kinds list by range. */
const keyOf = (kind: StoreKind, key: string): string => `${kind}!${key}`

/** The embedded default: a LevelDB directory on the tracker's disk. */
export class LevelTrackerStore implements TrackerStore {
  private readonly db: Level<string, string>

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
    return new LevelTrackerStore(db)
  }

  async write(ops: readonly StoreOp[]): Promise<void> {
    if (ops.length === 0) return
    await this.db.batch(ops.map((op) => (op.type === 'put'
      ? { type: 'put' as const, key: keyOf(op.kind, op.key), value: JSON.stringify(op.value) }
      : { type: 'del' as const, key: keyOf(op.kind, op.key) })))
  }

  async list(kind: StoreKind): Promise<Array<[string, unknown]>> {
    const out: Array<[string, unknown]> = []
    const prefix = `${kind}!`
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: `${kind}"` })) out.push([k.slice(prefix.length), JSON.parse(v)])
    return out
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}

/** The tracker's error for a directory level cannot open: what is wrong, and what to do. */
function dataDirError(dir: string, err: unknown): PeerstageError {
  const { problem, message } = diagnoseDataDir(dir, err, { what: 'the state directory', who: 'the tracker', running: 'a tracker', stop: 'that tracker' })
  return trackerError(TrackerErrorCodes.DATA_DIR, message, { cause: err, details: { dir, problem } })
}
