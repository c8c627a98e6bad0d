/**
 * The canonical form of a JSON value: object keys sorted by UTF-16 code units, no white
 * space, integers only. It is what gets signed and hashed, so it must never change.
 */
export function canonicalJson(value: unknown): string {
  // One list of pieces joined once: nested joins would copy a manifest's megabytes of base64 per level.
  const out: string[] = []
  write(value, out)
  return out.join('')
}

function write(value: unknown, out: string[]): void {
  if (typeof value === 'string') return quote(value, out)
  if (value === null || typeof value === 'boolean') return void out.push(JSON.stringify(value))
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`canonical JSON holds safe integers only, got ${value}`)
    return void out.push(String(value))
  }
  if (Array.isArray(value)) {
    out.push('[')
    value.forEach((v, i) => {
      if (i > 0) out.push(',')
      write(v, out)
    })
    return void out.push(']')
  }
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
    out.push('{')
    keys.forEach((k, i) => {
      if (i > 0) out.push(',')
      quote(k, out)
      out.push(':')
      write(obj[k], out)
    })
    return void out.push('}')
  }
  throw new TypeError(`canonical JSON cannot hold ${typeof value}`)
}

/** JSON escapes only these: a string without them (base64, most names) is its own body. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/**
 * JSON.stringify of a string, without its scan of a manifest's megabytes of base64 (several
 * times slower than this test). Surrogates take the slow path: a lone one is escaped there.
 */
function quote(s: string, out: string[]): void {
  if (NEEDS_ESCAPE.test(s)) out.push(JSON.stringify(s))
  else out.push('"', s, '"')
}
