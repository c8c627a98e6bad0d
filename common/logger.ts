import { createRequire } from 'node:module'
import type { Logger, pino as pinoFn } from 'pino'

export type { Logger }

export interface LoggerInit {
  /** @default 'info', or PEERSTAGE_LOG_LEVEL */
  level?: string
  /** Component name, logged as `module`. */
  module?: string
}

// pino takes ~80 ms to load: load it on first use, so commands that never log start fast.
const require = createRequire(import.meta.url)
let pino: typeof pinoFn | undefined
const loadPino = (): typeof pinoFn => (pino ??= (require('pino') as { pino: typeof pinoFn }).pino)

/**
 * Structured JSON logs on stderr (stdout belongs to command output and `--json`).
 */
export function createLogger(init: LoggerInit = {}): Logger {
  const p = loadPino()
  const level = init.level ?? process.env.PEERSTAGE_LOG_LEVEL ?? 'info'
  const logger = p({ level, base: { pid: process.pid } }, p.destination(2))
  return init.module === undefined ? logger : logger.child({ module: init.module })
}

/** For tests and library callers that want no output. */
export function silentLogger(): Logger {
  return loadPino()({ level: 'silent' })
}
