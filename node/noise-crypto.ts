/**
 * Noise's crypto with one change: ChaCha20-Poly1305 on node:crypto builds the cipher key's
 * KeyObject once per session key, not once per 64 KiB frame (noise passes the raw key to
 * createCipheriv, which imports it every time: ~6 % of a transfer's CPU). Everything else
 * (handshake, frames under 1200 bytes) is noise's own.
 */
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'

/** Below this many bytes noise's WASM ChaCha20-Poly1305 beats node:crypto (noise's own threshold). */
const NODE_CRYPTO_MIN_BYTES = 1200
const TAG_BYTES = 16
const keys = new WeakMap<Uint8Array, KeyObject>()

function keyObject(k: Uint8Array): KeyObject {
  let key = keys.get(k)
  if (key === undefined) {
    key = createSecretKey(k)
    keys.set(k, key)
  }
  return key
}

export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NODE_CRYPTO_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = createCipheriv('chacha20-poly1305', keyObject(k), nonce, { authTagLength: TAG_BYTES })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    const parts = plaintext instanceof Uint8Array ? [cipher.update(plaintext)] : [...plaintext].map((b) => cipher.update(b))
    cipher.final()
    parts.push(cipher.getAuthTag())
    return Buffer.concat(parts)
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NODE_CRYPTO_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    const textBytes = ciphertext.byteLength - TAG_BYTES
    const decipher = createDecipheriv('chacha20-poly1305', keyObject(k), nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(ad, { plaintextLength: textBytes })
    decipher.setAuthTag(ciphertext.subarray(textBytes))
    const out = ciphertext instanceof Uint8Array
      ? decipher.update(ciphertext.subarray(0, textBytes))
      : Buffer.concat([...ciphertext.sublist(0, textBytes)].map((b) => decipher.update(b)))
    decipher.final() // throws on a bad tag
    return out
  },
}
