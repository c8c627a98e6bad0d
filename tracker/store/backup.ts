import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { Level } from 'level'
import { formatMarkText, makeDataDir, PEERSTAGE_VERSION } from '../../common/index.ts'
import { TrackerErrorCodes, trackerError } from '../protocol/index.ts'
import { TRACKER_STORE_FORMAT } from './format.ts'
import { dataDirError, LEVEL_FORMAT_KEY } from './level.ts'
import { STORE_KINDS, type StoreKind, type StoredRecord } from './types.ts'

/**
 * A tracker backup: JSON lines, so it streams both ways and a person can read it.
 *
 *   {"peerstageBackup":"tracker","format":1,"storeFormat":1,"writtenBy":"peerstage 0.1.0","createdAt":MS}
 *   {"kind":"deployment","key":"d-1a2b3c4d","value":{…}}          one line per record
 *   {"end":true,"records":N,"sha256":"…"}                           SHA-256 of every line above, newlines included
 *
 * The last line proves the file whole: a backup cut short (a dropped connection, a full disk)
 * or altered is refused by `restore` before anything is put in place.
 */
export const BACKUP_FORMAT = 1

/** The header line's fields. */
export interface BackupHeader {
  peerstageBackup: 'tracker'
  format: number
  /** The store format the records are in (TRACKER_STORE_FORMAT of the tracker that wrote it). */
  storeFormat: number
  writtenBy: string
  createdAt: number
}

/** The backup's lines (each ending in a newline) for the records `dump` gives. */
export async function* backupLines(records: AsyncIterable<StoredRecord>, createdAt: number): AsyncGenerator<string> {
  const hash = createHash('sha256')
  const line = (text: string): string => {
    hash.update(text)
    return text
  }
  const header: BackupHeader = { peerstageBackup: 'tracker', format: BACKUP_FORMAT, storeFormat: TRACKER_STORE_FORMAT, writtenBy: `peerstage ${PEERSTAGE_VERSION}`, createdAt }
  yield line(`${JSON.stringify(header)}\n`)
  let count = 0
  for await (const r of records) {
    count++
    // The value's JSON goes in as stored: no parse and print again per record.
    yield line(`{"kind":${JSON.stringify(r.kind)},"key":${JSON.stringify(r.key)},"value":${r.json}}\n`)
  }
  yield `${JSON.stringify({ end: true, records: count, sha256: hash.digest('hex') })}\n`
}

/** What `readBackup` found: the header, and the records in file order. */
export interface BackupContents {
  header: BackupHeader
  records: AsyncGenerator<StoredRecord>
}

function badBackup(file: string, why: string): Error {
  return trackerError(TrackerErrorCodes.BAD_BACKUP, `${file} is not a whole peerstage tracker backup (${why}): nothing was restored; take a new one with 'peerstage tracker backup'`, { details: { file } })
}

/**
 * Reads a backup line by line. The header is checked at once; `records` checks each line and,
 * at the end, the count and checksum: it throws BAD_BACKUP on the first thing wrong, so a
 * caller writes records somewhere temporary and keeps them only once it has run to the end.
 */
export async function readBackup(file: string): Promise<BackupContents> {
  let stream
  try {
    statSync(file)
    stream = createReadStream(file, { encoding: 'utf8' })
  } catch (err) {
    throw trackerError(TrackerErrorCodes.BAD_BACKUP, `cannot read the backup ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, details: { file } })
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity })[Symbol.asyncIterator]()
  const first = await lines.next()
  if (first.done === true) throw badBackup(file, 'it is empty')
  const header = parseLine(first.value) as Partial<BackupHeader> | undefined
  if (header?.peerstageBackup !== 'tracker') throw badBackup(file, 'its first line is not a tracker backup header')
  if (header.format !== BACKUP_FORMAT) {
    throw trackerError(TrackerErrorCodes.BAD_BACKUP, `${file} is a tracker backup of format ${String(header.format)}; this peerstage reads format ${BACKUP_FORMAT}: restore it with the peerstage that wrote it (${String(header.writtenBy)}) or a newer one`, { details: { file, format: header.format } })
  }
  if (typeof header.storeFormat !== 'number' || !Number.isSafeInteger(header.storeFormat) || header.storeFormat < 1) throw badBackup(file, 'its header has no storeFormat')
  if (header.storeFormat > TRACKER_STORE_FORMAT) {
    throw trackerError(TrackerErrorCodes.STORE_FORMAT, `${file} holds tracker store format ${header.storeFormat}, written by ${String(header.writtenBy)}; this peerstage reads format ${TRACKER_STORE_FORMAT}: restore it with that peerstage or a newer one`, { details: { file, format: header.storeFormat, supported: TRACKER_STORE_FORMAT } })
  }
  const hash = createHash('sha256').update(`${first.value}\n`)
  const kinds = new Set<string>(STORE_KINDS)
  async function* records(): AsyncGenerator<StoredRecord> {
    let count = 0
    for (let n = 2; ; n++) {
      const next = await lines.next()
      if (next.done === true) throw badBackup(file, `it ends after line ${n - 1} without its closing line: cut short`)
      const text = next.value
      const line = parseLine(text)
      if (line === undefined) throw badBackup(file, `line ${n} is not JSON`)
      if (line.end === true) {
        const digest = hash.digest('hex')
        if (line.records !== count) throw badBackup(file, `it says ${String(line.records)} records and holds ${count}`)
        if (line.sha256 !== digest) throw badBackup(file, 'its checksum does not match its lines: altered or damaged')
        if ((await lines.next()).done !== true) throw badBackup(file, `something follows its closing line ${n}`)
        return
      }
      hash.update(`${text}\n`)
      if (typeof line.kind !== 'string' || !kinds.has(line.kind) || typeof line.key !== 'string' || !('value' in line)) {
        throw badBackup(file, `line ${n} is not a record of a known kind`)
      }
      count++
      yield { kind: line.kind as StoreKind, key: line.key, json: JSON.stringify(line.value) }
    }
  }
  return { header: header as BackupHeader, records: records() }
}

function parseLine(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/** What `restoreBackup` did. */
export interface RestoreResult {
  dir: string
  records: number
  header: BackupHeader
  /** With `force` over a directory that held state: where that state was moved. */
  replacedMovedTo?: string
}

/** Records per level batch while restoring. */
const RESTORE_BATCH = 1000

/**
 * Restores a backup into `dir` for a tracker that is not running: into a new directory
 * beside it first, checked to the last line, then renamed into place. A `dir` that holds
 * anything is refused unless `force`, and then moved aside (never deleted), after checking
 * no tracker holds it.
 */
export async function restoreBackup(file: string, dir: string, options: { force?: boolean, now?: () => number } = {}): Promise<RestoreResult> {
  const held = existsSync(dir) && statSync(dir).isDirectory() && readdirSync(dir).length > 0
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw dataDirError(dir, Object.assign(new Error(`EEXIST: ${dir}`), { code: 'EEXIST' }))
  if (held && options.force !== true) {
    throw trackerError(TrackerErrorCodes.DATA_DIR, `the state directory ${dir} is not empty: give restore an empty or new --data, or add --force to move what is there aside`, { details: { dir, problem: 'not-empty' } })
  }
  if (held) await refuseIfInUse(dir)
  const { header, records } = await readBackup(file)
  makeDataDir(dirname(dir))
  const staging = join(dirname(dir), `.${basename(dir)}.restoring-${process.pid}`)
  rmSync(staging, { recursive: true, force: true })
  const db = new Level<string, string>(staging, { valueEncoding: 'utf8' })
  let count = 0
  try {
    try {
      await db.open()
    } catch (err) {
      throw dataDirError(staging, err)
    }
    let batch: Array<{ type: 'put', key: string, value: string }> = []
    for await (const r of records) {
      batch.push({ type: 'put', key: `${r.kind}!${r.key}`, value: r.json })
      count++
      if (batch.length >= RESTORE_BATCH) {
        await db.batch(batch)
        batch = []
      }
    }
    // The backup's own store format: an older one is migrated when a tracker opens it.
    batch.push({ type: 'put', key: LEVEL_FORMAT_KEY, value: formatMarkText(header.storeFormat, header.writtenBy) })
    await db.batch(batch, { sync: true })
    await db.close()
  } catch (err) {
    await db.close().catch(() => {})
    rmSync(staging, { recursive: true, force: true })
    throw err
  }
  let replacedMovedTo: string | undefined
  if (held) {
    const stamp = new Date(options.now?.() ?? Date.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '') // 20261203T070615Z
    replacedMovedTo = join(dirname(dir), `${basename(dir)}.before-restore-${stamp}`)
    renameSync(dir, replacedMovedTo)
  } else if (existsSync(dir)) {
    rmSync(dir, { recursive: true }) // empty
  }
  renameSync(staging, dir)
  return { dir, records: count, header, ...(replacedMovedTo !== undefined && { replacedMovedTo }) }
}

/** A running tracker holds its directory's level lock: opening it says so. */
async function refuseIfInUse(dir: string): Promise<void> {
  const db = new Level<string, string>(dir)
  try {
    await db.open({ createIfMissing: false })
  } catch (err) {
    const cause = (err as Error).cause as { code?: string } | undefined
    if (cause?.code === 'LEVEL_LOCKED') throw dataDirError(dir, err)
    return // not a level store, or a damaged one: it is moved aside all the same
  }
  await db.close()
}
