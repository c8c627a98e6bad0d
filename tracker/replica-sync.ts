import type { Clock } from '../bandwidth/index.ts'
import type { Logger } from '../common/index.ts'
import { STORE_KINDS, type SharedStore, type StoreKind, type StoreOp, type StoreSnapshot, type WrittenBatch } from './store/index.ts'

/** Where another replica's ops land, and what this replica holds of each kind. */
export interface ReplicaTables {
  apply(op: StoreOp): void
  /** Keys held of a kind the store may delete: a resync drops those the store no longer has. */
  keys(kind: StoreKind): string[]
}

const RESYNC_RETRY_MS = 1_000

/**
 * Keeps one replica's in-memory state current with what the others write to the shared
 * store. It subscribes before the first snapshot, so no batch falls between the two;
 * batches come in seq order, its own are skipped (applied when made), older ones than the
 * state are skipped. After the feed was cut (or a seq is missing) it takes a new snapshot
 * and reconciles: what the store dropped goes, what it holds is put in force.
 */
export class ReplicaSync {
  private readonly shared: SharedStore
  private readonly tables: ReplicaTables
  private readonly clock: Clock
  private readonly log: Logger
  /** The seq the state is current to; undefined while (re)loading, when batches wait in `queued`. */
  private seq: number | undefined
  private queued: WrittenBatch[] = []
  private resyncing = false
  private stopped = false
  private cancelRetry: (() => void) | undefined

  private constructor(shared: SharedStore, tables: ReplicaTables, clock: Clock, log: Logger) {
    this.shared = shared
    this.tables = tables
    this.clock = clock
    this.log = log
  }

  /** Subscribes, then snapshots: load the snapshot into the tables, then call `ready`. */
  static async start(shared: SharedStore, tables: ReplicaTables, clock: Clock, log: Logger): Promise<{ sync: ReplicaSync, snapshot: StoreSnapshot }> {
    const sync = new ReplicaSync(shared, tables, clock, log)
    await shared.subscribe({ batch: (b) => sync.received(b), interrupted: () => sync.resync('the store\'s feed was interrupted') })
    return { sync, snapshot: await shared.snapshot() }
  }

  /** The snapshot is in the tables: apply the batches written since. */
  ready(snapshot: StoreSnapshot): void {
    this.seq = snapshot.seq
    const queued = this.queued
    this.queued = []
    for (const b of queued) this.received(b)
  }

  stop(): void {
    this.stopped = true
    this.cancelRetry?.()
  }

  private received(b: WrittenBatch): void {
    if (this.stopped) return
    if (this.seq === undefined) {
      this.queued.push(b)
      return
    }
    if (b.seq <= this.seq) return
    if (b.seq > this.seq + 1) {
      this.resync(`batches ${this.seq + 1}..${b.seq - 1} were missed`)
      return
    }
    this.seq = b.seq
    if (b.replica === this.shared.replicaId) return
    try {
      for (const op of b.ops) this.tables.apply(op)
    } catch (err) {
      // A record this replica cannot read (another version wrote it?): start again from the store.
      this.log.error({ seq: b.seq, err: (err as Error).message }, 'a batch from another replica did not apply')
      this.resync(`batch ${b.seq} did not apply`)
    }
  }

  /** A new snapshot replaces the state; batches wait meanwhile. Retries until the store answers. */
  private resync(why: string): void {
    if (this.resyncing || this.stopped) return
    this.resyncing = true
    this.seq = undefined
    this.log.warn({ why }, 'reloading the tracker state from the shared store')
    const attempt = (): void => {
      this.shared.snapshot().then((snapshot) => {
        this.resyncing = false
        if (this.stopped) return
        this.reconcile(snapshot)
        this.ready(snapshot)
      }, (err: Error) => {
        this.log.warn({ err: err.message }, 'the shared store does not answer; retrying')
        this.cancelRetry = this.clock.setTimer(attempt, RESYNC_RETRY_MS)
      })
    }
    attempt()
  }

  private reconcile(snapshot: StoreSnapshot): void {
    for (const kind of STORE_KINDS) {
      const entries = snapshot.kinds.get(kind) ?? []
      const held = new Set(entries.map(([key]) => key))
      for (const key of this.tables.keys(kind)) if (!held.has(key)) this.tables.apply({ type: 'del', kind, key })
      for (const [key, value] of entries) this.tables.apply({ type: 'put', kind, key, value })
    }
  }
}
