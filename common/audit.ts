import type { Logger } from './logger.ts'

/**
 * Security-relevant events (a refused token, a bad request, a wrong swarm key, a peer that
 * breaks the wire protocol) as structured log lines with a stable `audit` field naming the
 * kind, and the source address (`addr`) and peer id (`peer`) where known:
 *
 *   {"level":40,"audit":"token-refused","addr":"10.1.2.3","route":"/v1/announce","msg":"audit"}
 *
 * An attacker decides how often these happen, so each (kind, address) logs at most
 * `maxPerMinute` lines a minute; past that its lines are counted, and once its minute is over
 * one line says how many were left out: `{"audit":"token-refused","addr":…,"suppressed":K}`
 * (at the next audit line, or by an unref'd timer at the minute's end if none comes).
 * The map of (kind, address) is bounded: past `maxKeys` a line of a new pair is counted
 * under `addr: '*'` for its kind. Callers never pass a token or a secret in `fields`.
 */
export interface AuditLogInit {
  /** Lines per (kind, address) per minute. @default 10 */
  maxPerMinute?: number
  /** (kind, address) pairs followed at once. @default 10000 */
  maxKeys?: number
  /** Milliseconds, monotonic or wall: only differences are used. @default Date.now */
  nowMs?: () => number
  /** The span `maxPerMinute` counts over. @default 60000 */
  windowMs?: number
}

export type AuditFields = { addr: string, peer?: string } & Record<string, unknown>

export type AuditLog = (kind: string, fields: AuditFields) => void

interface Window {
  kind: string
  addr: string
  startMs: number
  lines: number
  suppressed: number
}

export function createAuditLog(logger: Logger, init: AuditLogInit = {}): AuditLog {
  const maxPerMinute = init.maxPerMinute ?? 10
  const maxKeys = init.maxKeys ?? 10_000
  const nowMs = init.nowMs ?? Date.now
  const windowMs = init.windowMs ?? 60_000
  // In the order they started: the oldest windows are at the front.
  const windows = new Map<string, Window>()

  const close = (key: string, w: Window): void => {
    windows.delete(key)
    if (w.suppressed > 0) logger.warn({ audit: w.kind, addr: w.addr, suppressed: w.suppressed }, `audit: suppressed ${w.suppressed} lines`)
  }

  // Windows that are over say what they left out, then go: the map holds live minutes only.
  // At most once a second: a Map's deleted entries linger as holes its iteration walks.
  let sweptAt = -Infinity
  const sweep = (now: number): void => {
    if (Math.abs(now - sweptAt) < 1000) return
    sweptAt = now
    for (const [key, w] of windows) {
      if (now - w.startMs < windowMs) break
      close(key, w)
    }
  }
  // An attack that stops still gets its summary: a real timer (unref'd, it keeps no process up).
  let summaryTimer: NodeJS.Timeout | undefined
  const sweepLater = (w: Window, now: number): void => {
    if (summaryTimer !== undefined) return
    summaryTimer = setTimeout(() => {
      summaryTimer = undefined
      sweep(nowMs())
      const next = [...windows.values()].find((o) => o.suppressed > 0)
      if (next !== undefined) sweepLater(next, nowMs())
    }, Math.max(1000, w.startMs + windowMs - now + 10)) // at least a second: a clock stepped back must not make it spin
    summaryTimer.unref()
  }

  return (kind, fields) => {
    const now = nowMs()
    sweep(now)
    let addr = fields.addr
    let key = `${kind} ${addr}`
    if (!windows.has(key) && windows.size >= maxKeys) [addr, key] = ['*', `${kind} *`]
    let w = windows.get(key)
    if (w === undefined) {
      w = { kind, addr, startMs: now, lines: 0, suppressed: 0 }
      windows.set(key, w)
    }
    if (w.addr === '*' || w.lines >= maxPerMinute) {
      w.suppressed++
      sweepLater(w, now)
      return
    }
    w.lines++
    logger.warn({ ...fields, audit: kind }, 'audit')
  }
}
