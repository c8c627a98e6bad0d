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
  close(): Promise<void>
}
