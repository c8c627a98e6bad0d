/**
 * The one error class of peerstage. Every expected failure carries a stable `code`
 * (`PEERSTAGE_<MODULE>_<WHAT>`) whose meaning never changes; scripts match on it, and
 * README lists every code (a test keeps that list complete).
 *
 * Each module declares its codes once, in one table (`defineErrorCodes`), giving each code
 * its class. Callers decide by that class (`exitCodeOf`, `isTransient`), never by a code's
 * prefix or a message's text: messages may change, codes and classes do not.
 */
export class PeerstageError extends Error {
  override readonly name = 'PeerstageError'
  /** Always the current code: an old code given here (an older tracker's answer) is read as the code it became. */
  readonly code: string
  /** Extra facts for `--json` output and logs (paths, offsets, sizes). */
  readonly details: Record<string, unknown> | undefined

  constructor(code: string, message: string, options: { cause?: unknown, details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = currentCode(code)
    this.details = options.details
  }

  /** `aliases`: the old codes this one had, which scripts may still match on for a release. */
  toJSON(): { name: string, code: string, aliases?: string[], message: string, details?: Record<string, unknown> } {
    const aliases = ERRORS.get(this.code)?.aliases
    return {
      name: this.name,
      code: this.code,
      ...(aliases !== undefined && aliases.length > 0 && { aliases: [...aliases] }),
      message: this.message,
      ...(this.details && { details: this.details }),
    }
  }
}

/**
 * True for a PeerstageError; with `code`, only one with that code. An old code (an alias,
 * kept for a release after a rename) matches the error of the code it became. (With a literal
 * `code`, a false answer leaves another PeerstageError a PeerstageError for the next test.)
 */
export function isPeerstageError(err: unknown): err is PeerstageError
export function isPeerstageError<C extends string>(err: unknown, code: C): err is PeerstageError & { readonly code: C }
export function isPeerstageError(err: unknown, code?: string): err is PeerstageError {
  return err instanceof PeerstageError && (code === undefined || err.code === currentCode(code))
}

/**
 * What a caller does about an error, by its code:
 * - `usage`: the input is wrong or cannot be used (an option, a file, a config, a directory); fix it. Exit 2.
 * - `refused`: the input is understood and a check refuses it (trust, signature, token, a rule); exit 2.
 * - `transient`: another side could not do it now (the tracker, a peer); the same request may pass later. Exit 1.
 * - `failed`: the work started and failed; exit 1.
 */
export type ErrorClass = 'usage' | 'refused' | 'transient' | 'failed'

/** The CLI's exit code for each class: 2 "could not start", 1 "started and failed". */
export const EXIT_CODES: Readonly<Record<ErrorClass, 1 | 2>> = { usage: 2, refused: 2, transient: 1, failed: 1 }

/** One code of a module's table. */
export interface ErrorCodeSpec {
  /** `PEERSTAGE_<MODULE>_<WHAT>`; never changes meaning. */
  code: string
  class: ErrorClass
  /** Old codes of this error, still matched by `isPeerstageError` for a release. */
  aliases?: readonly string[]
}

/** A registered code: its module, class and aliases. */
export interface ErrorCodeInfo extends Required<ErrorCodeSpec> {
  module: string
}

const ERRORS = new Map<string, ErrorCodeInfo>()
/** Old code → the code it became. */
const ALIASES = new Map<string, string>()

/**
 * Declares a module's codes, each with its class, and returns `{ KEY: code }` for the module
 * to throw with. Call it once per module, at load (a module loaded again may repeat the same
 * table); a code or alias given another meaning (module, class or code) throws.
 */
export function defineErrorCodes<const T extends Record<string, ErrorCodeSpec>>(module: string, table: T): { readonly [K in keyof T]: T[K]['code'] } {
  const codes: Record<string, string> = {}
  for (const [key, spec] of Object.entries(table)) {
    const aliases = spec.aliases ?? []
    const known = ERRORS.get(spec.code)
    if ((known !== undefined && (known.module !== module || known.class !== spec.class)) || ALIASES.has(spec.code)) {
      throw new TypeError(`error code ${spec.code} of module ${module} is declared twice`)
    }
    for (const alias of aliases) {
      if (ERRORS.has(alias) || (ALIASES.get(alias) ?? spec.code) !== spec.code) throw new TypeError(`error code alias ${alias} of module ${module} is declared twice`)
    }
    ERRORS.set(spec.code, { module, code: spec.code, class: spec.class, aliases })
    for (const alias of aliases) ALIASES.set(alias, spec.code)
    codes[key] = spec.code
  }
  return Object.freeze(codes) as { readonly [K in keyof T]: T[K]['code'] }
}

/** The code an old code became, or the code itself. */
export function currentCode(code: string): string {
  return ALIASES.get(code) ?? code
}

/** Every registered code (of the modules loaded so far). */
export function errorCodes(): ErrorCodeInfo[] {
  return [...ERRORS.values()]
}

/** The class of an error or code; undefined for an error that is not a PeerstageError or a code no table declares. */
export function errorClassOf(errOrCode: unknown): ErrorClass | undefined {
  const code = typeof errOrCode === 'string' ? currentCode(errOrCode) : isPeerstageError(errOrCode) ? errOrCode.code : undefined
  return code === undefined ? undefined : ERRORS.get(code)?.class
}

/**
 * The CLI's exit code for an error: 2 for `usage` and `refused`, 1 for `transient` and `failed`.
 * A PeerstageError whose code no table declares (a newer tracker's) gets 2, as before tables;
 * any other error (a bug) 1.
 */
export function exitCodeOf(err: unknown): 1 | 2 {
  if (!isPeerstageError(err)) return 1
  const cls = errorClassOf(err)
  return cls === undefined ? 2 : EXIT_CODES[cls]
}

/** True when the same request may pass later (the tracker or a peer could not do it now). */
export function isTransient(err: unknown): boolean {
  return errorClassOf(err) === 'transient'
}
