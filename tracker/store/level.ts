import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { Level } from 'level'
import type { PeerstageError } from '../../common/index.ts'
import { TrackerErrorCodes, trackerError } from '../errors.ts'
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
      makeDir(dir)
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

/** mkdir -p, one level at a time: a recursive mkdirSync says ENOENT on a read-only mount. */
function makeDir(dir: string): void {
  if (existsSync(dir)) return // a file here: level's own mkdir says EEXIST
  if (dirname(dir) !== dir) makeDir(dirname(dir))
  mkdirSync(dir)
}

/** The tracker's error for a directory level cannot open: what is wrong, and what to do. */
function dataDirError(dir: string, err: unknown): PeerstageError {
  // level wraps the reason (LEVEL_LOCKED, LEVEL_CORRUPTION, an errno, …) in LEVEL_DATABASE_NOT_OPEN.
  const cause = ((err as { code?: string }).code === 'LEVEL_DATABASE_NOT_OPEN' ? (err as Error).cause : err) as (Error & { code?: string }) | undefined
  const code = cause?.code ?? ''
  const reason = /^E[A-Z]+$/.test(code) ? cause!.message.split(',')[0]! : cause?.message ?? String(err)
  const [problem, message] = diagnose(dir, code, reason)
  return trackerError(TrackerErrorCodes.DATA_DIR, message, { cause: err, details: { dir, problem } })
}

function diagnose(dir: string, code: string, reason: string): [problem: string, message: string] {
  const other = 'give the tracker another --data'
  if (code === 'LEVEL_LOCKED') return ['in-use', `the state directory ${dir} is in use by another process (is a tracker already running with it?): stop that tracker, or ${other}`]
  if (code === 'EEXIST') return ['not-a-directory', `the state directory ${dir} is a file, not a directory: ${other} (a directory, or a path that does not exist yet)`]
  if (code === 'ENOTDIR') return ['not-a-directory', `the state directory ${dir} cannot be made: part of its path is a file: ${other} (a directory, or a path that does not exist yet)`]
  if (['EROFS', 'EACCES', 'EPERM'].includes(code) || /Read-only file system|Permission denied/.test(reason)) {
    return ['read-only', `cannot write the state directory ${dir} (${reason}): make it writable, or ${other}`]
  }
  // A CURRENT naming no file, a MANIFEST gone: level says IO error, but the directory is what is broken.
  if (code === 'LEVEL_CORRUPTION' || (code === 'LEVEL_IO_ERROR' && /No such file or directory/.test(reason))) {
    return ['damaged', `the state directory ${dir} is damaged (${reason}): restore it from a backup, or move it aside to start with empty state`]
  }
  return ['unusable', `cannot open the state directory ${dir} (${reason}): check it, or ${other}`]
}
