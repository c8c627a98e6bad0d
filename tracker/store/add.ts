/**
 * The `add` op on one stored record (its JSON, or undefined when there is none): each field
 * of `value` added to the record's, a missing field counting as 0. Plain doubles, so sums
 * stay exact integers up to 2^53.
 */
export function addFields(json: string | undefined, value: Readonly<Record<string, number>>, what: string): string {
  const record: unknown = json === undefined ? {} : JSON.parse(json)
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new TypeError(`cannot add to ${what}: it is not a JSON object`)
  const out = record as Record<string, unknown>
  checkAddition(value, what)
  for (const [field, n] of Object.entries(value)) {
    const before = out[field] ?? 0
    if (typeof before !== 'number') throw new TypeError(`cannot add to ${what}.${field}: it holds a ${typeof before}, not a number`)
    out[field] = before + n
  }
  return JSON.stringify(out)
}

/** Throws unless every number of an `add` op's value is finite. */
export function checkAddition(value: Readonly<Record<string, number>>, what: string): void {
  for (const [field, n] of Object.entries(value)) {
    if (!Number.isFinite(n)) throw new TypeError(`cannot add ${String(n)} to ${what}.${field}: not a finite number`)
  }
}
