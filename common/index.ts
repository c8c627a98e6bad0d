/**
 * What every module shares: the error class and its code tables, the logger, the progress bar and formatting.
 */
export {
  PeerstageError, isPeerstageError, defineErrorCodes, currentCode, errorCodes, errorClassOf, exitCodeOf, isTransient, EXIT_CODES,
  type ErrorClass, type ErrorCodeSpec, type ErrorCodeInfo,
} from './errors.ts'
export { createLogger, silentLogger, type Logger, type LoggerInit } from './logger.ts'
export { createProgress, type Progress, type ProgressInit } from './progress.ts'
export { formatBytes, formatDuration } from './format.ts'
export { writeFileAtomic } from './fs.ts'
export { diagnoseDataDir, makeDataDir, type DataDirOwner, type DataDirProblem } from './data-dir.ts'
export { createAuditLog, type AuditLog, type AuditLogInit, type AuditFields } from './audit.ts'
export { PEERSTAGE_VERSION, versionLine } from './version.ts'
