/**
 * One pino JSON line as a person reads it on a terminal:
 * `14:03:22.118 WARN  [announcer] tracker not reachable  url=http://10.0.0.5:7070 err="ECONNREFUSED"`
 * (local time, level, module, message, then the other fields as key=value). Small and
 * dependency-free, so a command that logs does not load pino-pretty and its dependencies.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
const COLORS: Record<string, string> = { TRACE: '90', DEBUG: '90', INFO: '32', WARN: '33', ERROR: '31', FATAL: '31' }

/** Fields every line of ours carries that the line's layout shows already, or that say nothing to a person. */
const SHOWN = new Set(['time', 'level', 'msg', 'module', 'pid', 'hostname', 'v'])

export interface LogFormatOptions {
  /** ANSI colours for the level. @default false */
  color?: boolean
}

/** `HH:MM:SS.mmm` in local time. */
function localTime(ms: number): string {
  const d = new Date(ms)
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`
}

/** No newline or control character may break the one line. */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? ' ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
}

/** A field's value, compactly: bare when it has no space or quote, else quoted; an error as its message (and code). */
function valueText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? oneLine(value) : JSON.stringify(value)
  if (value !== null && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string' && ('stack' in value || 'type' in value)) {
    const e = value as unknown as { message: string, code?: unknown }
    return JSON.stringify(typeof e.code === 'string' ? `${e.message} (${e.code})` : e.message)
  }
  return oneLine(JSON.stringify(value) ?? String(value))
}

/** The readable line of one JSON log line; a line that is not a pino object comes back as it was. */
export function formatLogLine(json: string, options: LogFormatOptions = {}): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return oneLine(json.trimEnd())
  }
  if (entry === null || typeof entry !== 'object') return oneLine(json.trimEnd())
  const label = LEVELS[entry.level as number] ?? String(entry.level ?? '').toUpperCase()
  const level = options.color === true ? `\x1b[${COLORS[label] ?? '0'}m${label.padEnd(5)}\x1b[0m` : label.padEnd(5)
  const time = typeof entry.time === 'number' ? localTime(entry.time) : ''
  const module = typeof entry.module === 'string' ? ` [${entry.module}]` : ''
  const msg = typeof entry.msg === 'string' ? ` ${oneLine(entry.msg)}` : ''
  const fields = Object.entries(entry).filter(([k]) => !SHOWN.has(k)).map(([k, v]) => `${k}=${valueText(v)}`)
  return `${time} ${level}${module}${msg}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}`
}
