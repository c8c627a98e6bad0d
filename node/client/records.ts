import type { DeploymentOffer, DeploymentState } from '../../tracker/protocol/index.ts'
import type { Store } from '../store/index.ts'

export type ByteSources = { lan: number, wan: number, reused: number }

/** What a client keeps per deployment (in its store), so a restart resumes where it was. */
export interface DeploymentRecord {
  offer: DeploymentOffer
  state: DeploymentState
  /** Why it failed, or what it waits for. */
  reason?: string
  exitCode?: number | null
  logTail?: string
  verifyFailures: number
  /** Package bytes received up to the last save, across restarts. */
  bytes: ByteSources
  updatedAt: string
  /**
   * The pid of the supervisor of its program (saved once started): a restarted client waits
   * for its recorded exit instead of guessing.
   */
  supervisorPid?: number
  /** A failure worth retrying (disk space, disk full) is retried from this time (ms since epoch). */
  retryAt?: number
}

const KIND = 'deployment'
const USED = 'package-used'

export async function loadRecords(store: Store): Promise<DeploymentRecord[]> {
  return (await store.records<DeploymentRecord>(KIND)).map(([, r]) => r)
}

export function saveRecord(store: Store, record: DeploymentRecord): Promise<void> {
  return store.putRecord(KIND, record.offer.id, record)
}

/** When a deployment last used a package (ms), for least-recently-used eviction. */
export async function lastUsed(store: Store): Promise<Map<string, number>> {
  return new Map(await store.records<number>(USED))
}

export function touchPackage(store: Store, packageId: string, at: number): Promise<void> {
  return store.putRecord(USED, packageId, at)
}

export function forgetPackage(store: Store, packageId: string): Promise<void> {
  return store.deleteRecord(USED, packageId)
}
