import { isPeerstageError } from '../common/index.ts'
import { TrackerErrorCodes, trackerError } from './protocol/index.ts'
import type { StoreOp, TrackerStore } from './store/index.ts'

type AddOp = Extract<StoreOp, { type: 'add' }>

/**
 * Writes the tracker's changes: every op of one tick in one batch (under load, of every tick
 * while the batch before is being written), each batch after the ones before it. A failed
 * batch fails the calls that made it (STORE_FAILED), not every batch after it. A batch's
 * adds to one key become one add (every announce adds to its subnet's byte totals): the
 * store reads and rewrites that record once.
 */
export class BatchWriter {
  private readonly store: TrackerStore
  private pending: StoreOp[] = []
  /** `kind key` → the pending add (our own copy) later adds to that key fold into, until a put or del of it. */
  private adds = new Map<string, AddOp>()
  private batch: Promise<void> | undefined
  private writing = Promise.resolve()

  constructor(store: TrackerStore) {
    this.store = store
  }

  /** Resolves once the ops are in the store. */
  write(ops: readonly StoreOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve()
    for (const op of ops) this.queue(op)
    // Taken at the end of the tick, or once the batch before is written if that is later:
    // under load the store gets fewer, larger batches, and no op waits longer than it did.
    this.batch ??= Promise.all([this.writing.catch(() => {}), new Promise<void>((resolve) => setImmediate(resolve))]).then(() => {
      const batch = this.pending
      this.pending = []
      this.adds = new Map()
      this.batch = undefined
      const write = this.store.write(batch).catch((err: unknown) => {
        if (isPeerstageError(err, TrackerErrorCodes.STORE_UNAVAILABLE)) throw err
        throw trackerError(TrackerErrorCodes.STORE_FAILED, `the tracker could not save the change, so it did not make it: ${(err as Error).message}; try again once the tracker's data directory can be written`, { cause: err })
      })
      this.writing = write
      return write
    })
    return this.batch
  }

  private queue(op: StoreOp): void {
    const key = `${op.kind} ${op.key}`
    if (op.type !== 'add') {
      this.adds.delete(key)
      this.pending.push(op)
      return
    }
    const into = this.adds.get(key)
    if (into === undefined) {
      const own: AddOp = { type: 'add', kind: op.kind, key: op.key, value: { ...op.value } }
      this.adds.set(key, own)
      this.pending.push(own)
      return
    }
    for (const [field, n] of Object.entries(op.value)) into.value[field] = (into.value[field] ?? 0) + n
  }

  /** Resolves once everything written so far is in the store (or failed). */
  async flush(): Promise<void> {
    await this.batch?.catch(() => {})
    await this.writing.catch(() => {})
  }
}
