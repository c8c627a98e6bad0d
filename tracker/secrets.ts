import { hash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import { TrackerErrorCodes, trackerError } from './protocol/index.ts'

/**
 * The tracker config's secrets: tokens given literally (`adminToken: T`) or read from a file
 * (`adminTokenFile: PATH`, e.g. a systemd credential or a Kubernetes secret, so the YAML can
 * be shared and kept in git), and the TLS certificate and key. Every error names the key.
 */

function bad(key: string, rule: string): never {
  throw trackerError(TrackerErrorCodes.BAD_CONFIG, `${key} ${rule}`, { details: { key } })
}

function readText(path: string, key: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    bad(key, `'${path}' cannot be read (${what}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/**
 * A token from `NAME` (the literal) or `NAMEFile` (a file holding it; surrounding white space,
 * such as the newline an editor adds, is not part of it). Both at once is an error, as is an
 * empty one; neither: undefined (or an error when `required`).
 */
export function tokenOf(top: Record<string, unknown>, name: string, baseDir: string, required: boolean): string | undefined {
  const literal = top[name]
  const file = top[`${name}File`]
  if (literal !== undefined && file !== undefined) bad(name, `and ${name}File exclude each other: give the token one way`)
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') bad(`${name}File`, 'must be the path of a file holding the token')
    const text = readText(resolve(baseDir, file), `${name}File`, 'it holds the token').trim()
    if (text === '') bad(`${name}File`, `'${file}' is empty: it must hold the token`)
    if (/\s/.test(text)) bad(`${name}File`, `'${file}' holds more than one line or word: it must hold the token only`)
    return text
  }
  if (literal === undefined && !required) return undefined
  if (typeof literal !== 'string' || literal.length < 1) bad(name, `must be a non-empty string (or give ${name}File: PATH of a file holding it)`)
  return literal
}

/** `tls:` files as the config names them, resolved; the PEM pair is read again on each reload. */
export interface TlsFiles {
  certFile: string
  keyFile: string
}

/** A certificate chain and its private key, both PEM, checked to belong together. */
export interface TlsPair {
  cert: Buffer
  key: Buffer
}

/** `tls: {cert: FILE, key: FILE}` → resolved paths, after checking the pair loads. */
export function tlsFilesOf(value: unknown, baseDir: string): TlsFiles | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('tls', 'must be a mapping with cert: FILE and key: FILE (PEM)')
  const m = value as Record<string, unknown>
  for (const k of Object.keys(m)) if (k !== 'cert' && k !== 'key') bad(`tls.${k}`, 'is not a known key (expected one of cert, key)')
  for (const k of ['cert', 'key']) if (typeof m[k] !== 'string' || m[k] === '') bad(`tls.${k}`, `must be the path of a PEM ${k === 'cert' ? 'certificate (chain)' : 'private key'} file`)
  const files = { certFile: resolve(baseDir, m.cert as string), keyFile: resolve(baseDir, m.key as string) }
  readTlsPair(files, 'tls')
  return files
}

/**
 * Reads and checks the pair: both PEM, and the key the certificate's. Errors are BAD_CONFIG
 * naming `key.cert` or `key.key`; a reload reports the same message and keeps the old pair.
 */
export function readTlsPair(files: TlsFiles, key = 'tls'): TlsPair {
  const cert = Buffer.from(readText(files.certFile, `${key}.cert`, 'the certificate'))
  const privateKey = Buffer.from(readText(files.keyFile, `${key}.key`, 'the private key'))
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) bad(`${key}.cert`, `'${files.certFile}' is not a PEM certificate (-----BEGIN CERTIFICATE-----)`)
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey.toString('latin1'))) bad(`${key}.key`, `'${files.keyFile}' is not a PEM private key (-----BEGIN PRIVATE KEY-----)`)
  try {
    createSecureContext({ cert, key: privateKey })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' || /key values mismatch/i.test((err as Error).message)) bad(`${key}.key`, `'${files.keyFile}' is not the private key of the certificate ${files.certFile}`)
    bad(`${key}.cert`, `'${files.certFile}' and its key cannot be used: ${(err as Error).message}`)
  }
  return { cert, key: privateKey }
}

/**
 * Whether a presented token is the expected one, in time that depends on neither: both are
 * hashed first, so the comparison is over equal lengths and says nothing of the token's length.
 */
export function sameToken(given: string, expected: string): boolean {
  // crypto.hash, one shot: about 2-3 µs a compare here against 7-9 µs through createHash.
  return timingSafeEqual(hash('sha256', given, 'buffer'), hash('sha256', expected, 'buffer'))
}
