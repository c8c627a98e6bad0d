/**
 * The one error class of peerstage. Every expected failure carries a stable `code`
 * (`PEERSTAGE_<MODULE>_<WHAT>`) whose meaning never changes; scripts match on it, and
 * README lists every code (a test keeps that list complete).
 */
export class PeerstageError extends Error {
  override readonly name = 'PeerstageError'
  readonly code: string
  /** Extra facts for `--json` output and logs (paths, offsets, sizes). */
  readonly details: Record<string, unknown> | undefined

  constructor(code: string, message: string, options: { cause?: unknown, details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details
  }

  toJSON(): { name: string, code: string, message: string, details?: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, ...(this.details && { details: this.details }) }
  }
}

export function isPeerstageError(err: unknown, code?: string): err is PeerstageError {
  return err instanceof PeerstageError && (code === undefined || err.code === code)
}
