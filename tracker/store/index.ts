/** The tracker's state store: one interface; an embedded level store, an in-memory one, and Redis shared by replicas. */
export type { Change, StoreKind, StoreOp, TrackerStore } from './types.ts'
export { MemoryTrackerStore } from './memory.ts'
export { LevelTrackerStore } from './level.ts'
export { RedisTrackerStore, type RedisStoreInit } from './redis.ts'
