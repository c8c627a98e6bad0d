/** The tracker's state store: one interface, an embedded level store and an in-memory one. */
export type { Change, StoreKind, StoreOp, TrackerStore } from './types.ts'
export { MemoryTrackerStore } from './memory.ts'
export { LevelTrackerStore } from './level.ts'
