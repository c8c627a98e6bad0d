import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import XSalsa20 from 'xsalsa20'
import '../../node/xsalsa20-fix.ts'

type Cipher = { update(input: Uint8Array): Uint8Array, _xor: { _memory: Uint8Array } }
const make = (nonce: Uint8Array, key: Uint8Array): Cipher => (XSalsa20 as unknown as (n: Uint8Array, k: Uint8Array) => Cipher)(nonce, key)

describe('xsalsa20 shared-memory fix (under @libp2p/pnet)', () => {
  it('does not grow the memory again for instances whose view another instance detached', () => {
    const nonce = randomBytes(24)
    const key = randomBytes(32)
    const a = make(nonce, key)
    const b = make(randomBytes(24), randomBytes(32))
    b.update(new Uint8Array(1024))
    a.update(new Uint8Array(4 * 1024 * 1024)) // grows the shared memory: b's view is now detached
    const size = a._xor._memory.length
    for (let i = 0; i < 20; i++) b.update(new Uint8Array(256 * 1024))
    expect(b._xor._memory.length).toBe(size) // unfixed: grows by each input
  })

  it('still encrypts and decrypts correctly across a growth', () => {
    const nonce = randomBytes(24)
    const key = randomBytes(32)
    const enc = make(nonce, key)
    const dec = make(nonce, key)
    const other = make(randomBytes(24), randomBytes(32))
    const parts = [randomBytes(1000), randomBytes(3 * 1024 * 1024), randomBytes(70_000)]
    const out: Buffer[] = []
    for (const p of parts) {
      other.update(new Uint8Array(5 * 1024 * 1024)) // keep detaching views between calls
      out.push(Buffer.from(dec.update(enc.update(p))))
    }
    expect(Buffer.concat(out).equals(Buffer.concat(parts))).toBe(true)
  })
})
