/**
 * What every module shares: the error class and its code tables, the logger (JSON, or readable lines on a terminal), the progress bar and the stderr it shares with log lines, formatting.
 */
export {
  PeerstageError, isPeerstageError, defineErrorCodes, currentCode, errorCodes, errorClassOf, exitCodeOf, isTransient, EXIT_CODES,
  type ErrorClass, type ErrorCodeSpec, type ErrorCodeInfo,
} from './errors.ts'
export { createLogger, defaultLogFormat, silentLogger, type Logger, type LoggerInit, type LogFormat } from './logger.ts'
export { formatLogLine } from './log-format.ts'
export { createProgress, RateWindow, type Progress, type ProgressInit } from './progress.ts'
export { endStatusLine, writeLine } from './terminal.ts'
export { formatBytes, formatDuration } from './format.ts'
export { writeFileAtomic } from './fs.ts'
export { diagnoseDataDir, makeDataDir, type DataDirOwner, type DataDirProblem } from './data-dir.ts'
export { checkStoreFormat, formatMarkText, parseFormatMark, type FormatKeyStore, type StoreFormatInit, type StoreFormatMark } from './store-format.ts'
export { PEERSTAGE_VERSION, versionLine } from './version.ts'
export { createAuditLog, type AuditLog, type AuditLogInit, type AuditFields } from './audit.ts'
export { inSingleExecutable, seaAsset, seaAssetNames, loadNativeAsset, SEA_ASSETS, SEA_SUPERVISOR_ARG } from './single-executable.ts'
