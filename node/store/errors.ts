import { defineErrorCodes, diagnoseDataDir, PeerstageError } from '../../common/index.ts'

/**
 * Stable codes of the node's store, in the node module's namespace (`PEERSTAGE_NODE_STORE_*`),
 * with their classes (common/errors.ts). Up to 0.1.0 they were `PEERSTAGE_STORE_*`, outside the
 * `PEERSTAGE_<MODULE>_` rule: those old codes still match (isPeerstageError, `aliases` in --json)
 * for one more release.
 */
export const StoreErrorCodes = defineErrorCodes('node', {
  /**
   * The node's store holds a format this build does not read: written by a newer peerstage, or
   * an older format it no longer migrates (format.ts). Nothing in it was changed.
   */
  FORMAT: { code: 'PEERSTAGE_NODE_STORE_FORMAT', class: 'usage' },
  /** The disk is full (or over quota): the piece was not written and is not marked present. */
  DISK_FULL: { code: 'PEERSTAGE_NODE_STORE_DISK_FULL', class: 'failed', aliases: ['PEERSTAGE_STORE_DISK_FULL'] },
  /** Writing or reading package data failed for another reason (permissions, I/O error). */
  IO: { code: 'PEERSTAGE_NODE_STORE_IO', class: 'failed', aliases: ['PEERSTAGE_STORE_IO'] },
  /**
   * The node's store (`DATA/db`) cannot be opened; `details.problem` says why: `in-use` (another
   * node runs with this --data), `damaged`, `read-only`, `not-a-directory`, `unusable`.
   */
  DATA_DIR: { code: 'PEERSTAGE_NODE_STORE_DATA_DIR', class: 'usage', aliases: ['PEERSTAGE_STORE_DATA_DIR'] },
  /** A package path this system cannot write as given (on Windows: a device name, a forbidden character, a case-only twin); `details.path` names it. */
  PATH_UNWRITABLE: { code: 'PEERSTAGE_NODE_STORE_PATH_UNWRITABLE', class: 'refused' },
})

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
