/**
 * The format version of an on-disk `level` store (a node's `DATA/db`, the tracker's `--data`),
 * kept under one key of the store itself so it travels with it. A store without that key was
 * written before stores carried a version (peerstage 0.1.0): its layout is format 1.
 *
 * On open: a newer format than this build knows is refused (an older peerstage must not
 * rewrite what it does not understand); an older one is migrated one step at a time, each step
 * followed by its new mark, or refused when no step leads on from it.
 */

/** What the check needs of a level database: one key read and written. */
export interface FormatKeyStore {
  get(key: string): Promise<string | undefined>
  put(key: string, value: string): Promise<void>
}

/** The stored mark: the format, and which peerstage last wrote it (for the operator's eyes only). */
export interface StoreFormatMark {
  format: number
  writtenBy: string
}

export interface StoreFormatInit {
  /** The key the mark lives under; it must sort outside every range the store lists. */
  key: string
  /** The format this build writes. */
  current: number
  /** Steps from format N to N + 1, by N; none today. */
  migrations?: Readonly<Record<number, (db: FormatKeyStore) => Promise<void>>>
  /** `peerstage 0.1.0`: recorded in the mark. */
  writtenBy: string
  /** The error for a store of a format newer than `current`. */
  newer: (format: number) => Error
  /** The error for an older format no migration leads on from. */
  older: (format: number) => Error
  /** The error for a mark that is not a positive whole format number. */
  damaged: (text: string) => Error
}

/** Parses a stored mark; undefined when it is not one. */
export function parseFormatMark(text: string): StoreFormatMark | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { format, writtenBy } = value as Record<string, unknown>
  if (typeof format !== 'number' || !Number.isSafeInteger(format) || format < 1) return undefined
  return { format, writtenBy: typeof writtenBy === 'string' ? writtenBy : 'unknown' }
}

/** The text of a mark for `format`. */
export function formatMarkText(format: number, writtenBy: string): string {
  return JSON.stringify({ format, writtenBy } satisfies StoreFormatMark)
}

/**
 * Checks (and, for an unmarked or older store, writes) the store's format mark. Returns the
 * format the store had when opened (1 for an unmarked one).
 */
export async function checkStoreFormat(db: FormatKeyStore, init: StoreFormatInit): Promise<number> {
  const text = await db.get(init.key)
  let format = 1
  if (text !== undefined) {
    const mark = parseFormatMark(text)
    if (mark === undefined) throw init.damaged(text)
    format = mark.format
  }
  const found = format
  if (format > init.current) throw init.newer(format)
  while (format < init.current) {
    const step = init.migrations?.[format]
    if (step === undefined) throw init.older(format)
    await step(db)
    format++
    await db.put(init.key, formatMarkText(format, init.writtenBy))
  }
  if (text === undefined) await db.put(init.key, formatMarkText(format, init.writtenBy))
  return found
}
