import type { ReplicaState } from '../../tracker/protocol/index.ts'
import type { Store } from '../store/index.ts'

/** What a DP keeps per package it replicates (in its store), so a restart resumes. */
export interface ReplicaRecord {
  packageId: string
  name: string
  version: string
  state: ReplicaState
  /** Why it failed, or what it waits for. */
  reason?: string
  /** ISO 8601: when it last became whole and verified here. */
  copiedAt?: string
  updatedAt: string
  /** A failure worth retrying (disk space, tracker) is retried from this time (ms since epoch). */
  retryAt?: number
  /** Pieces of the package, once its manifest is known (reported while it has no swarm). */
  pieces?: number
}

const KIND = 'replica'

export async function loadReplicas(store: Store): Promise<ReplicaRecord[]> {
  return (await store.records<ReplicaRecord>(KIND)).map(([, r]) => r)
}

export function saveReplica(store: Store, record: ReplicaRecord): Promise<void> {
  return store.putRecord(KIND, record.packageId, record)
}

export function deleteReplica(store: Store, packageId: string): Promise<void> {
  return store.deleteRecord(KIND, packageId)
}
