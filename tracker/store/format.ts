import { checkStoreFormat, PEERSTAGE_VERSION, type FormatKeyStore } from '../../common/index.ts'
import { TrackerErrorCodes, trackerError } from '../protocol/index.ts'

/**
 * The format of the tracker's stored records (kinds, keys, the JSON of each value), the same
 * in level and in Redis. Bump it when that changes, with a migration from the one before
 * (common/store-format.ts); a backup carries it too.
 */
export const TRACKER_STORE_FORMAT = 1

/** Which store, in the words of the sentence, and what to give the tracker instead. */
export interface StoreWhere {
  /** `the state directory /var/lib/…`, `the Redis store at redis://…` */
  what: string
  /** `another --data` */
  elsewhere: string
  details: Record<string, unknown>
}

/** Refuses a store of a format this build does not read; marks an unmarked (0.1.0) one. */
export function checkTrackerFormat(db: FormatKeyStore, key: string, where: StoreWhere): Promise<number> {
  const details = (format: number): Record<string, unknown> => ({ ...where.details, format, supported: TRACKER_STORE_FORMAT })
  return checkStoreFormat(db, {
    key,
    current: TRACKER_STORE_FORMAT,
    writtenBy: `peerstage ${PEERSTAGE_VERSION}`,
    newer: (format) => trackerError(TrackerErrorCodes.STORE_FORMAT,
      `${where.what} holds tracker store format ${format}, written by a newer peerstage; this one reads format ${TRACKER_STORE_FORMAT}: run the newer peerstage, or give this one ${where.elsewhere}`,
      { details: details(format) }),
    older: (format) => trackerError(TrackerErrorCodes.STORE_FORMAT,
      `${where.what} holds tracker store format ${format}, which this peerstage no longer migrates: start 'peerstage tracker' on it once with a release in between (it migrates the store as it opens it), then this one`,
      { details: details(format) }),
    damaged: (text) => trackerError(TrackerErrorCodes.DATA_DIR,
      `${where.what} is damaged (its format mark ${key} holds ${JSON.stringify(text.slice(0, 60))}): restore it from a backup, or move it aside to start with empty state`,
      { details: { ...where.details, problem: 'damaged' } }),
  })
}
