/**
 * dp: what a distribution point does beyond seeding — replicate the packages its site must
 * hold from its parent site's DPs (and its own site's), inside the link's windows, reusing
 * chunks of versions it holds, verified and moved whole under packages/; free what the
 * tracker no longer lists; report each package's state.
 */
export { Replicator, type ReplicatorInit } from './replicator.ts'
export type { ReplicaRecord } from './records.ts'
