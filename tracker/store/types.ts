/**
 * What the tracker keeps, by kind. Values are plain JSON. The tracker holds its working
 * state in memory and writes every change through here, one batch per tick, before it
 * answers; at start it loads everything back. A shared store (Redis, Valkey) for several
 * tracker replicas implements the same interface.
 */
export type StoreKind = 'registration' | 'lease' | 'override' | 'bytes'
  /** Deployments by id; the canonical signed manifest (of a deployed or catalogued package) by package id; the latest report by `deploymentId peerId`. */
  | 'deployment' | 'manifest' | 'report'
  /** The catalogue (packages DPs replicate) by package id; their manifests are the `manifest` kind, stored once. */
  | 'package'

export type StoreOp =
  | { type: 'put', kind: StoreKind, key: string, value: unknown }
  | { type: 'del', kind: StoreKind, key: string }
  /**
   * Adds each number to the field of the stored record (a missing record or field counts
   * as 0): counters several replicas bump at once, where a put of the total would lose one.
   */
  | { type: 'add', kind: StoreKind, key: string, value: Record<string, number> }

/** A change to write, then to put in force: state is written before it takes effect. */
export interface Change {
  ops: StoreOp[]
  /** Called once `ops` are in the store; never when the write failed. */
  apply: () => void
}

export interface TrackerStore {
  /** Applies the operations atomically, in order. */
  write(ops: readonly StoreOp[]): Promise<void>
  /** Every key and value of one kind. */
  list(kind: StoreKind): Promise<Array<[key: string, value: unknown]>>
  /**
   * Every record of every kind as of one instant (no write lands half in it), each value as
   * its JSON text: what `tracker backup` streams.
   */
  dump(): AsyncIterable<StoredRecord>
  close(): Promise<void>
  /** Present on a store several tracker replicas share (Redis): see SharedStore. */
  readonly shared?: SharedStore
}

/** One record of a store, its value as JSON text. */
export interface StoredRecord {
  kind: StoreKind
  key: string
  json: string
}

export const STORE_KINDS: readonly StoreKind[] = ['registration', 'lease', 'override', 'bytes', 'deployment', 'manifest', 'report', 'package']

/** Everything in a shared store at one instant, and the sequence number of the last batch in it. */
export interface StoreSnapshot {
  seq: number
  kinds: Map<StoreKind, Array<[key: string, value: unknown]>>
}

/** One batch of ops as written, numbered in store order, with the replica that wrote it. */
export interface WrittenBatch {
  seq: number
  replica: string
  ops: StoreOp[]
}

/**
 * What replicas of one estate need beyond reading and writing: each keeps its working state
 * in memory, loaded from a snapshot and kept current by the batches the others write.
 */
export interface SharedStore {
  /** This process's id: batches it wrote come back to it with this `replica`. */
  readonly replicaId: string
  /** Everything, atomically, with the seq of the last batch written (batches after it are newer). */
  snapshot(): Promise<StoreSnapshot>
  /**
   * Calls `batch` with every batch written from now on (by any replica, in seq order), and
   * `interrupted` when the feed was cut (batches may have been missed: take a new snapshot).
   * Resolves once subscribed.
   */
  subscribe(handlers: { batch: (b: WrittenBatch) => void, interrupted: () => void }): Promise<void>
  /**
   * Atomically, for one (subnet, package) slot: drops leases expired at `now`, then renews
   * the peer's lease or grants it one while fewer than `limit` are held, until `now + ttlMs`.
   * False when the slot is full. A `lease` del op written later frees the peer's place.
   */
  acquireLease(slot: { subnet: string, packageId: string, peerId: string }, limit: number, now: number, ttlMs: number): Promise<boolean>
}
