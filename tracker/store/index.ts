/** The tracker's state store: one interface; an embedded level store, an in-memory one, and Redis shared by replicas. */
export { STORE_KINDS, type Change, type SharedStore, type StoreKind, type StoreOp, type StoredRecord, type StoreSnapshot, type TrackerStore, type WrittenBatch } from './types.ts'
export { MemoryTrackerStore } from './memory.ts'
export { LevelTrackerStore } from './level.ts'
export { TRACKER_STORE_FORMAT } from './format.ts'
export { BACKUP_FORMAT, backupLines, readBackup, restoreBackup, type BackupHeader, type RestoreResult } from './backup.ts'
export { RedisTrackerStore, type RedisStoreInit } from './redis.ts'
export { parseRedisUrl, shownRedisUrl } from './redis-url.ts'
