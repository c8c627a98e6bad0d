import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { attachWireToSocket, createWire, FrameGuard, giveBackFrames, maxMessageBytes, MAX_BLOCK_BYTES, MAX_FREE_BYTES, pooledFreeBytes, takeFrame, type Wire } from '../../node/wire/index.ts'

const INFO_HASH = 'aa'.repeat(20)

/** Two wires piped to each other, as bittorrent-protocol's own tests do. */
function pair(): [Wire, Wire] {
  const a = createWire()
  const b = createWire()
  a.pipe(b).pipe(a)
  return [a, b]
}

const once = <T extends unknown[]>(wire: Wire, event: string): Promise<T> => new Promise((resolve) => wire.once(event, (...args: unknown[]) => resolve(args as T)))

describe('wire (codec piped to itself)', () => {
  it('handshakes with the package info hash and exchanges bitfield, have, choke state', async () => {
    const [a, b] = pair()
    const hs = once<[string, string]>(b, 'handshake')
    a.handshake(INFO_HASH, 'a1'.repeat(20))
    const [infoHash, peerId] = await hs
    expect(infoHash).toBe(INFO_HASH)
    expect(peerId).toBe('a1'.repeat(20))
    b.handshake(INFO_HASH, 'b2'.repeat(20))
    await once(a, 'handshake')

    const bits = once<[{ get(i: number): boolean }]>(b, 'bitfield')
    a.bitfield(Uint8Array.from([0b1010_0000]))
    const [got] = await bits
    expect([0, 1, 2].map((i) => got.get(i))).toEqual([true, false, true])

    const have = once<[number]>(b, 'have')
    a.have(1)
    expect((await have)[0]).toBe(1)

    expect(b.peerChoking).toBe(true)
    const unchoke = once(b, 'unchoke')
    a.unchoke()
    await unchoke
    expect(b.peerChoking).toBe(false)
    const interested = once(a, 'interested')
    b.interested()
    await interested
    expect(a.peerInterested).toBe(true)
  })

  it('answers a request with the block, and cancels', async () => {
    const [a, b] = pair()
    a.handshake(INFO_HASH, 'a1'.repeat(20))
    b.handshake(INFO_HASH, 'b2'.repeat(20))
    const block = new Uint8Array(MAX_BLOCK_BYTES).map((_, i) => i & 0xff)
    a.on('request', (index, offset, length, respond) => respond(null, block.subarray(0, length)))
    const unchoke = once(b, 'unchoke')
    a.unchoke()
    await unchoke
    const got = await new Promise<Uint8Array>((resolve, reject) => b.request(3, 0, MAX_BLOCK_BYTES, (err, buf) => (err ? reject(err) : resolve(buf!))))
    expect(Buffer.from(got).equals(Buffer.from(block))).toBe(true)

    const cancelled = new Promise<Error | null>((resolve) => b.request(4, 0, 1024, (err) => resolve(err)))
    const seen = once<[number, number, number]>(a, 'cancel')
    b.cancel(4, 0, 1024)
    expect((await cancelled)?.message).toMatch(/cancelled/)
    expect(await seen).toEqual([4, 0, 1024])
  })
})

describe('FrameGuard', () => {
  /** `<19>BitTorrent protocol`, 8 reserved bytes, info hash and peer id (20 each). */
  function handshakeBytes(): Buffer {
    return Buffer.concat([Buffer.from('\x13BitTorrent protocol'), Buffer.alloc(48, 9)])
  }

  function frame(id: number, body: number): Uint8Array {
    const out = new Uint8Array(4 + 1 + body)
    new DataView(out.buffer).setUint32(0, 1 + body)
    out[4] = id
    return out
  }

  it('passes legal framing split at any byte on in whole frames, and rejects a message longer than the limit', () => {
    const limit = maxMessageBytes(1000)
    const frames = [handshakeBytes(), frame(1, 0), Buffer.alloc(4), frame(7, 8 + MAX_BLOCK_BYTES), Buffer.alloc(4), frame(5, 125), frame(4, 4)]
    const legal = Buffer.concat(frames)
    const ends = frames.map((_, i) => frames.slice(0, i + 1).reduce((n, f) => n + f.length, 0))
    for (const split of [1, 2, 3, 4, 5, 7, 13, 4096, 65536, legal.length]) {
      const g = new FrameGuard(limit)
      const out: Buffer[] = []
      for (let at = 0; at < legal.length; at += split) g.push(legal.subarray(at, at + split), (f) => out.push(Buffer.from(f)))
      expect(Buffer.concat(out).equals(legal)).toBe(true)
      let at = 0
      for (const f of out) expect(ends).toContain(at += f.length) // never part of a frame
    }
    const g = new FrameGuard(limit)
    g.push(handshakeBytes(), () => {})
    const huge = new Uint8Array(4)
    new DataView(huge.buffer).setUint32(0, 2 ** 30) // "a 1 GiB block"
    expect(() => g.push(huge.subarray(0, 2), () => {})).not.toThrow()
    expect(() => g.push(huge.subarray(2), () => {})).toThrow(expect.objectContaining({ code: 'PEERSTAGE_NODE_WIRE_OVERSIZE' }))
  })
  it('rejects a malformed message or handshake, after passing on the whole frames before it', () => {
    const limit = maxMessageBytes(1000)
    for (const [bad, text] of [
      [frame(4, 1), /2-byte have message; it is 5 bytes/],
      [frame(6, 8), /9-byte request message; it is 13 bytes/],
      [frame(7, 4), /5-byte piece message; it is at least 9 bytes/],
      [frame(42, 3), /unknown kind 42/],
    ] as const) {
      const g = new FrameGuard(limit)
      const out: Buffer[] = []
      const good = Buffer.concat([handshakeBytes(), frame(2, 0)])
      expect(() => g.push(Buffer.concat([good, bad]), (f) => out.push(Buffer.from(f)))).toThrow(expect.objectContaining({ code: 'PEERSTAGE_NODE_WIRE_MALFORMED', message: expect.stringMatching(text) }))
      expect(Buffer.concat(out).equals(good)).toBe(true)
      // The same, split across arrivals.
      const split = new FrameGuard(limit)
      split.push(good, () => {})
      split.push(bad.subarray(0, 5), () => {})
      expect(() => split.push(bad.subarray(5), () => {})).toThrow(expect.objectContaining({ code: 'PEERSTAGE_NODE_WIRE_MALFORMED' }))
    }
    expect(() => new FrameGuard(limit).push(Buffer.alloc(68, 9), () => {})).toThrow(expect.objectContaining({ code: 'PEERSTAGE_NODE_WIRE_MALFORMED' }))
  })
})

describe('frame pool', () => {
  it('reuses a block buffer for a shorter last block, and keeps no more than its cap however many lengths come back', () => {
    const full = takeFrame(13 + MAX_BLOCK_BYTES)
    giveBackFrames([full.subarray(13)])
    const held = pooledFreeBytes()
    expect(held).toBeGreaterThan(0)
    // A piece's last block, of a length no block had before: it lies in the same memory.
    const tail = takeFrame(13 + MAX_BLOCK_BYTES - 1234)
    expect(tail.length).toBe(13 + MAX_BLOCK_BYTES - 1234)
    expect(tail.buffer).toBe(full.buffer)
    expect(pooledFreeBytes()).toBe(held - full.buffer.byteLength)
    giveBackFrames([tail])

    // Content-defined pieces: every last block a length of its own (a 10 GiB package has ~5,000).
    const frames = Array.from({ length: 500 }, (_, i) => takeFrame(20_000 + i * 217))
    giveBackFrames(frames)
    expect(pooledFreeBytes()).toBeLessThanOrEqual(MAX_FREE_BYTES)
    expect(pooledFreeBytes()).toBeGreaterThan(MAX_FREE_BYTES / 2)
  })

  it('ignores memory it did not make', () => {
    const before = pooledFreeBytes()
    giveBackFrames([Buffer.alloc(64 * 1024), new Uint8Array(200_000)])
    expect(pooledFreeBytes()).toBe(before)
  })
})

describe('block buffers sent down a socket', () => {
  it('go back to the pool only once the socket took them: 200 blocks arrive as they were sent, most in reused buffers', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
    const dialled = connect((server.address() as AddressInfo).port, '127.0.0.1')
    const [a, b] = [createWire(), createWire()]
    const options = { maxMessageBytes: maxMessageBytes(256) }
    attachWireToSocket(await accepted, a, options)
    attachWireToSocket(dialled, b, options)
    try {
      a.handshake(INFO_HASH, 'a1'.repeat(20))
      b.handshake(INFO_HASH, 'b2'.repeat(20))
      const served = new Set<ArrayBufferLike>()
      a.on('request', (index, offset, length, respond) => {
        const block = takeFrame(length).fill(index & 0xff) // as a served block is read: from the pool
        served.add(block.buffer)
        respond(null, block)
      })
      const unchoke = once(b, 'unchoke')
      a.unchoke()
      await unchoke
      // Four rounds of 50 requests in flight, as the swarm keeps 64: later rounds reuse the first's buffers.
      const wrong: number[] = []
      for (let round = 0; round < 4; round++) {
        await Promise.all(Array.from({ length: 50 }, (_, k) => new Promise<void>((resolve, reject) => {
          const index = round * 50 + k
          b.request(index, 0, MAX_BLOCK_BYTES, (err, got) => {
            if (err) return reject(err)
            if (got!.length !== MAX_BLOCK_BYTES || got!.some((byte) => byte !== (index & 0xff))) wrong.push(index)
            giveBackFrames([got!]) // as the swarm does once a block is on disk
            resolve()
          })
        })))
      }
      expect(wrong).toEqual([])
      expect(served.size).toBeLessThan(150)
    } finally {
      a.destroy()
      b.destroy()
      dialled.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
