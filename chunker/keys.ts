import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ChunkerErrorCodes, chunkerError } from './errors.ts'

/** How a publisher key appears in a manifest: `ed25519:` + base64 of the 32 raw bytes. */
const PREFIX = 'ed25519:'

export interface PublisherKeyFiles {
  privateKeyPath: string
  publicKeyPath: string
  /** The public key as written in manifests. */
  publisher: string
}

/**
 * Writes `DIR/publisher.key` (PKCS#8 PEM, mode 0600) and `DIR/publisher.pub` (SPKI PEM).
 * Refuses to overwrite: losing a publisher key strands every client that trusts it.
 */
export function generatePublisherKeys(dir: string): PublisherKeyFiles {
  const privateKeyPath = join(dir, 'publisher.key')
  const publicKeyPath = join(dir, 'publisher.pub')
  for (const p of [privateKeyPath, publicKeyPath]) {
    if (existsSync(p)) throw chunkerError(ChunkerErrorCodes.KEY_EXISTS, `${p} already exists; move it away first to make a new key`, { details: { path: p } })
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  mkdirSync(dir, { recursive: true })
  writeFileSync(privateKeyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
  writeFileSync(publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644, flag: 'wx' })
  return { privateKeyPath, publicKeyPath, publisher: publisherOf(publicKey) }
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw chunkerError(ChunkerErrorCodes.KEY_INVALID, `cannot read key file ${path}: ${(err as Error).message}`, { cause: err, details: { path } })
  }
}

function requireEd25519(key: KeyObject, path: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw chunkerError(ChunkerErrorCodes.KEY_INVALID, `${path} is a ${key.asymmetricKeyType} key; publisher keys are Ed25519`, { details: { path } })
  }
  return key
}

export function loadPrivateKey(path: string): KeyObject {
  const text = readKeyFile(path)
  try {
    return requireEd25519(createPrivateKey(text), path)
  } catch (err) {
    if ((err as { code?: string }).code === ChunkerErrorCodes.KEY_INVALID) throw err
    throw chunkerError(ChunkerErrorCodes.KEY_INVALID, `${path} is not a PEM private key (make one with \`peerstage keygen\`)`, { cause: err, details: { path } })
  }
}

/** Reads a public key file: SPKI PEM, or one line `ed25519:<base64>` as manifests show it. */
export function loadPublicKey(path: string): KeyObject {
  const text = readKeyFile(path).trim()
  try {
    return requireEd25519(text.startsWith(PREFIX) ? publisherKey(text) : createPublicKey(text), path)
  } catch (err) {
    if ((err as { code?: string }).code === ChunkerErrorCodes.KEY_INVALID) throw err
    throw chunkerError(ChunkerErrorCodes.KEY_INVALID, `${path} is not an Ed25519 public key (PEM or ed25519:<base64>)`, { cause: err, details: { path } })
  }
}

/** The manifest form of a public (or private) key. */
export function publisherOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  const { x } = pub.export({ format: 'jwk' })
  return PREFIX + Buffer.from(x!, 'base64url').toString('base64')
}

/** Parses `ed25519:<base64>`; throws TypeError when it is not 32 bytes of key. */
export function publisherKey(publisher: string): KeyObject {
  if (!publisher.startsWith(PREFIX)) throw new TypeError(`publisher must start with '${PREFIX}'`)
  const raw = Buffer.from(publisher.slice(PREFIX.length), 'base64')
  if (raw.length !== 32 || raw.toString('base64') !== publisher.slice(PREFIX.length)) {
    throw new TypeError('publisher must be 32 bytes of base64 after ed25519:')
  }
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' })
}

export function signBytes(privateKey: KeyObject, data: Uint8Array): string {
  return sign(null, data, privateKey).toString('base64')
}

/**
 * Whether `signature` (canonical base64 of 64 bytes) signs `data` by `publisher`. Canonical:
 * Node decodes `AQ =`, `AR==` and `AQ` alike, and the signature's text is part of the signed
 * manifest's id, so each other spelling would give one package a second id (found by the fuzzer).
 */
export function verifyBytes(publisher: string, data: Uint8Array, signature: string): boolean {
  const sig = Buffer.from(signature, 'base64')
  if (sig.length !== 64 || sig.toString('base64') !== signature) return false
  return verify(null, data, publisherKey(publisher), sig)
}
