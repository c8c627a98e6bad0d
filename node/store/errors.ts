import { defineErrorCodes, diagnoseDataDir, PeerstageError } from '../../common/index.ts'

/**
 * Stable codes of the node's store, in the node module's namespace (`PEERSTAGE_NODE_STORE_*`),
 * with their classes (common/errors.ts). Up to 0.1.0 they were `PEERSTAGE_STORE_*`, outside the
 * `PEERSTAGE_<MODULE>_` rule: those old codes still match (isPeerstageError, `aliases` in --json)
 * for one more release.
 */
export const StoreErrorCodes = defineErrorCodes('node', {
  /** The disk is full (or over quota): the piece was not written and is not marked present. */
  DISK_FULL: { code: 'PEERSTAGE_NODE_STORE_DISK_FULL', class: 'failed', aliases: ['PEERSTAGE_STORE_DISK_FULL'] },
  /** Writing or reading package data failed for another reason (permissions, I/O error). */
  IO: { code: 'PEERSTAGE_NODE_STORE_IO', class: 'failed', aliases: ['PEERSTAGE_STORE_IO'] },
  /**
   * The node's store (`DATA/db`) cannot be opened; `details.problem` says why: `in-use` (another
   * node runs with this --data), `damaged`, `read-only`, `not-a-directory`, `unusable`.
   */
  DATA_DIR: { code: 'PEERSTAGE_NODE_STORE_DATA_DIR', class: 'usage', aliases: ['PEERSTAGE_STORE_DATA_DIR'] },
  /**
   * The node's store holds a format this build does not read: written by a newer peerstage, or
   * an older format it no longer migrates. Nothing in it was changed.
   */
  FORMAT: { code: 'PEERSTAGE_NODE_STORE_FORMAT', class: 'usage' },
})

/**
 * The layout of a node's level store (`manifest:ID`, `package:ID`, `have:ID`, `chunk:HASH`,
 * `record:KIND:KEY`). Bump it when that changes, with a migration from the one before.
 */
export const NODE_STORE_FORMAT = 1
/** Where the format mark lives; no prefix the store lists (`package:`, `record:…`) holds it. */
export const NODE_FORMAT_KEY = 'meta:format'

/** The node's refusal of a store of another format, in one sentence with what to do. */
export function formatError(dir: string, format: number, newer: boolean): PeerstageError {
  const message = newer
    ? `the node's store ${dir} holds format ${format}, written by a newer peerstage; this one reads format ${NODE_STORE_FORMAT}: run the newer peerstage, or give this one another --data (it will fetch again what it needs)`
    : `the node's store ${dir} holds format ${format}, which this peerstage no longer migrates: start the node on it once with a release in between (it migrates the store as it opens it), or give this one another --data`
  return new PeerstageError(StoreErrorCodes.FORMAT, message, { details: { dir, format, supported: NODE_STORE_FORMAT } })
}

/** A file system failure as the store reports it: a full disk says so (and that nothing was lost). */
export function ioError(err: unknown, what: string): PeerstageError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new PeerstageError(StoreErrorCodes.DISK_FULL, `${what}: the disk is full (${code}); free space and run again, nothing was lost`, { cause: err })
  }
  return new PeerstageError(StoreErrorCodes.IO, `${what}: ${(err as Error).message}`, { cause: err })
}

/** A node's --data (or its store under it) that cannot be used: what is wrong, and what to do. */
export function dataDirError(dir: string, err: unknown): PeerstageError {
  const { problem, message } = diagnoseDataDir(dir, err, { what: 'the node\'s data directory', who: 'the node', running: 'a peerstage dp, client or fetch', stop: 'that one' })
  return new PeerstageError(StoreErrorCodes.DATA_DIR, message, { cause: err, details: { dir, problem } })
}
