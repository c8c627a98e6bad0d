import { checkStoreFormat, PEERSTAGE_VERSION, PeerstageError, type FormatKeyStore } from '../../common/index.ts'
import { dataDirError, StoreErrorCodes } from './errors.ts'

/**
 * The layout of a node's level store (`manifest:ID`, `package:ID`, `have:ID`, `chunk:HASH`,
 * `record:KIND:KEY`). Bump it when that changes, with a migration from the one before
 * (common/store-format.ts).
 */
export const NODE_STORE_FORMAT = 2
/**
 * 1 → 2: chunk index entries name the package and file instead of a path (store.ts,
 * IndexEntry). Nothing is rewritten: format-1 entries are still read, by their path. The
 * mark keeps a peerstage of format 1 from misreading the new entries.
 */
const MIGRATIONS = { 1: async (): Promise<void> => {} }
/** Where the format mark lives; no prefix the store lists (`package:`, `record:…`) holds it. */
export const NODE_FORMAT_KEY = 'meta:format'

/**
 * Refuses a store of a format this build does not read (PEERSTAGE_NODE_STORE_FORMAT, nothing
 * changed); migrates an older one (an unmarked 0.1.0 store is format 1).
 */
export function checkNodeStoreFormat(db: FormatKeyStore, dir: string): Promise<number> {
  return checkStoreFormat(db, {
    key: NODE_FORMAT_KEY,
    current: NODE_STORE_FORMAT,
    migrations: MIGRATIONS,
    writtenBy: `peerstage ${PEERSTAGE_VERSION}`,
    newer: (format) => formatError(dir, format,
      `written by a newer peerstage; this one reads format ${NODE_STORE_FORMAT}: run the newer peerstage, or give this one another --data (it will fetch again what it needs)`),
    older: (format) => formatError(dir, format,
      'which this peerstage no longer migrates: start the node on it once with a release in between (it migrates the store as it opens it), or give this one another --data'),
    damaged: (text) => dataDirError(dir, Object.assign(new Error(`its format mark ${NODE_FORMAT_KEY} holds ${JSON.stringify(text.slice(0, 60))}`), { code: 'LEVEL_CORRUPTION' })),
  })
}

function formatError(dir: string, format: number, why: string): PeerstageError {
  return new PeerstageError(StoreErrorCodes.FORMAT, `the node's store ${dir} holds format ${format}, ${why}`, { details: { dir, format, supported: NODE_STORE_FORMAT } })
}
