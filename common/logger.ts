import { pino, type Logger } from 'pino'

export type { Logger }

export interface LoggerInit {
  /** @default 'info', or PEERSTAGE_LOG_LEVEL */
  level?: string
  /** Component name, logged as `module`. */
  module?: string
}

/**
 * Structured JSON logs on stderr (stdout belongs to command output and `--json`).
 */
export function createLogger(init: LoggerInit = {}): Logger {
  const level = init.level ?? process.env.PEERSTAGE_LOG_LEVEL ?? 'info'
  const logger = pino({ level, base: { pid: process.pid } }, pino.destination(2))
  return init.module === undefined ? logger : logger.child({ module: init.module })
}

/** For tests and library callers that want no output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
