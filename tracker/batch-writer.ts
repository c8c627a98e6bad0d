import { isPeerstageError } from '../common/index.ts'
import { TrackerErrorCodes, trackerError } from './protocol/index.ts'
import type { StoreOp, TrackerStore } from './store/index.ts'

/**
 * Writes the tracker's changes: every op of one tick in one batch, each batch after the
 * ones before it. A failed batch fails the calls that made it (STORE_FAILED), not every
 * batch after it.
 */
export class BatchWriter {
  private readonly store: TrackerStore
  private pending: StoreOp[] = []
  private batch: Promise<void> | undefined
  private writing = Promise.resolve()

  constructor(store: TrackerStore) {
    this.store = store
  }

  /** Resolves once the ops are in the store. */
  write(ops: readonly StoreOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve()
    this.pending.push(...ops)
    this.batch ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const batch = this.pending
      this.pending = []
      this.batch = undefined
      const write = this.writing.catch(() => {}).then(() => this.store.write(batch)).catch((err: unknown) => {
        if (isPeerstageError(err, TrackerErrorCodes.STORE_UNAVAILABLE)) throw err
        throw trackerError(TrackerErrorCodes.STORE_FAILED, `the tracker could not save the change, so it did not make it: ${(err as Error).message}; try again once the tracker's data directory can be written`, { cause: err })
      })
      this.writing = write
      return write
    })
    return this.batch
  }

  /** Resolves once everything written so far is in the store (or failed). */
  async flush(): Promise<void> {
    await this.batch?.catch(() => {})
    await this.writing.catch(() => {})
  }
}
