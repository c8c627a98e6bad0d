import { createRequire } from 'node:module'
import type { Logger, pino as pinoFn } from 'pino'
import { formatLogLine } from './log-format.ts'
import { writeLine } from './terminal.ts'

export type { Logger }

/** `pretty`: one readable line per entry (for a person at a terminal); `json`: pino's JSON lines (for machines). */
export type LogFormat = 'pretty' | 'json'

export interface LoggerInit {
  /** @default 'info', or PEERSTAGE_LOG_LEVEL */
  level?: string
  /** Component name, logged as `module`. */
  module?: string
  /** @default PEERSTAGE_LOG_FORMAT, else `pretty` when stderr is a terminal and `json` otherwise */
  format?: LogFormat
}

// pino takes ~80 ms to load: load it on first use, so commands that never log start fast.
const require = createRequire(import.meta.url)
let pino: typeof pinoFn | undefined
const loadPino = (): typeof pinoFn => (pino ??= (require('pino') as { pino: typeof pinoFn }).pino)

/** The format a logger writes in when its caller does not say. */
export function defaultLogFormat(): LogFormat {
  const env = process.env.PEERSTAGE_LOG_FORMAT
  if (env === 'pretty' || env === 'json') return env
  return process.stderr.isTTY ? 'pretty' : 'json'
}

/** pino writes each entry as one JSON line into this; it goes out readable, above any progress bar. */
function prettyStderr(): { write(line: string): void } {
  const color = process.stderr.isTTY === true && !process.env.NO_COLOR
  return {
    write(chunk) {
      for (const line of chunk.split('\n')) if (line !== '') writeLine(formatLogLine(line, { color }))
    },
  }
}

/**
 * Logs on stderr (stdout belongs to command output and `--json`): JSON lines, or on a
 * terminal one readable line each (common/log-format.ts).
 */
export function createLogger(init: LoggerInit = {}): Logger {
  const p = loadPino()
  const level = init.level ?? process.env.PEERSTAGE_LOG_LEVEL ?? 'info'
  const format = init.format ?? defaultLogFormat()
  const logger = p({ level, base: { pid: process.pid } }, format === 'pretty' ? prettyStderr() : p.destination(2))
  return init.module === undefined ? logger : logger.child({ module: init.module })
}

/** For tests and library callers that want no output. */
export function silentLogger(): Logger {
  return loadPino()({ level: 'silent' })
}
