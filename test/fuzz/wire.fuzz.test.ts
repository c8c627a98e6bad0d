import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SignedManifest } from '../../chunker/index.ts'
import { silentLogger } from '../../common/index.ts'
import { NodeErrorCodes } from '../../node/errors.ts'
import { Store, type StoredPackage } from '../../node/store/index.ts'
import { PackageSwarm } from '../../node/swarm.ts'
import { carry } from '../../node/wire/carry.ts'
import { createWire, FrameGuard, HANDSHAKE_BYTES, infoHashOf, MAX_BLOCK_BYTES, maxMessageBytes, type Wire } from '../../node/wire/index.ts'
import { packSample, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes } from '../helpers/tmp.ts'
import { fuzz, fuzzTimeoutMs, fileTempDir } from './fuzz.ts'

const WIRE_CODES: readonly string[] = [NodeErrorCodes.WIRE_OVERSIZE, NodeErrorCodes.WIRE_MALFORMED]

const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
const frame = (id: number, body: number[] | Uint8Array = []): Uint8Array => Uint8Array.from([...u32(1 + body.length), id, ...body])

function handshake(infoHashHex: string, peerIdByte = 0x66, reserved: number[] = [0, 0, 0, 0, 0, 0x10, 0, 0]): Uint8Array {
  const b = Buffer.alloc(HANDSHAKE_BYTES)
  b[0] = 19
  b.write('BitTorrent protocol', 1)
  Buffer.from(reserved).copy(b, 20)
  b.write(infoHashHex, 28, 'hex')
  b.fill(peerIdByte, 48)
  return b
}

/** A number biased to the edges a parser gets wrong: 0, small, the package's counts, 2^31, 2^32 - 1. */
const field = (near: number): fc.Arbitrary<number> => fc.oneof(fc.nat({ max: near + 2 }), fc.constantFrom(0, 1, near - 1, near, near + 1, MAX_BLOCK_BYTES, MAX_BLOCK_BYTES + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }))

/** One thing a hostile peer does: a message of each kind (fields near the edges), raw bytes, or an answer to what we asked. */
type Action = { kind: 'bytes', bytes: Uint8Array } | { kind: 'answer', how: 'right' | 'corrupt' | 'short' | 'twice' } | { kind: 'wait' }

function actions(pieceCount: number, pieceBytes: number): fc.Arbitrary<Action> {
  const bytes = (b: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Action> => b.map((x) => ({ kind: 'bytes' as const, bytes: x }))
  const bitfieldBytes = Math.ceil(pieceCount / 8)
  return fc.oneof(
    bytes(fc.constantFrom(0, 1, 2, 3, 0x0e, 0x0f).map((id) => frame(id))),
    bytes(field(pieceCount).map((i) => frame(4, u32(i)))), // have
    bytes(fc.oneof(fc.uint8Array({ minLength: bitfieldBytes, maxLength: bitfieldBytes }), fc.uint8Array({ maxLength: bitfieldBytes + 2 })).map((b) => frame(5, b))), // bitfield
    bytes(fc.tuple(fc.constantFrom(6, 8, 0x10), field(pieceCount), field(pieceBytes), field(MAX_BLOCK_BYTES)).map(([id, i, o, l]) => frame(id, [...u32(i), ...u32(o), ...u32(l)]))), // request, cancel, reject
    bytes(fc.tuple(field(pieceCount), field(pieceBytes), fc.nat({ max: 64 })).map(([i, o, n]) => frame(7, [...u32(i), ...u32(o), ...new Uint8Array(n)]))), // piece never asked for
    bytes(fc.tuple(fc.constantFrom(9, 0x0d, 0x11), field(pieceCount)).map(([id, i]) => frame(id, id === 9 ? u32(i).slice(2) : u32(i)))), // port, suggest, allowed fast
    bytes(fc.tuple(fc.nat({ max: 3 }), fc.oneof(fc.constantFrom('d1:md6:ut_pexi1eee', 'd1:md9:__proto__i1eee', 'd1:mli1eee', 'de', 'i-0e', 'd1:md1:xd1:yi1eeee'), fc.string({ maxLength: 40 }))).map(([ext, text]) => frame(20, [ext, ...Buffer.from(text)]))), // extended
    bytes(fc.tuple(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 20 })).map(([id, b]) => frame(id, b))), // any kind
    bytes(fc.uint8Array({ maxLength: 40 })), // raw
    bytes(fc.constantFrom(Uint8Array.from(u32(2 ** 32 - 1)), Uint8Array.from([...u32(9 + MAX_BLOCK_BYTES + 1), 7]), Uint8Array.from(u32(0)))), // lengths past any message, a keep-alive
    fc.constantFrom('right', 'right', 'corrupt', 'short', 'twice').map((how) => ({ kind: 'answer' as const, how })),
    fc.constant({ kind: 'wait' as const }),
  )
}

/** The requests a wire's output holds (after its handshake): `<13><6><piece><begin><length>`. */
function requestsIn(out: Uint8Array): Array<{ piece: number, offset: number, length: number }> {
  const found = []
  for (let at = HANDSHAKE_BYTES; at + 4 <= out.length;) {
    const len = Buffer.from(out.buffer, out.byteOffset + at, 4).readUInt32BE(0)
    if (len === 13 && out[at + 4] === 6) {
      const b = Buffer.from(out.buffer, out.byteOffset + at + 5, 12)
      found.push({ piece: b.readUInt32BE(0), offset: b.readUInt32BE(4), length: b.readUInt32BE(8) })
    }
    at += 4 + len
  }
  return found
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const dir = fileTempDir()
let src: string
let signed: SignedManifest
let seedStore: Store
let seeded: StoredPackage

beforeAll(async () => {
  src = join(dir, 'src')
  // Nine files: nine pieces, a bitfield of two bytes with spare bits.
  writeTree(src, Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}.bin`, pseudoRandomBytes(20_000 + i * 15_000, 40 + i)])))
  const packed = await packSample(src)
  signed = { manifest: packed.manifest, packageId: packed.packageId, canonical: packed.canonical }
  seedStore = await Store.open(join(dir, 'seed-db'))
  seeded = await seedStore.addPackage(signed, src, { readOnly: true })
  await seeded.markPresent(Array.from({ length: seeded.pieceCount }, (_, i) => i))
})

afterAll(async () => {
  await seedStore?.close()
})

/** The bytes of a piece's range, from the source files: what an honest peer sends. */
function blockOf(piece: number, offset: number, length: number): Uint8Array {
  const p = signed.manifest.pieces[piece]!
  const file = readFileSync(join(src, signed.manifest.files[p.file]!.path))
  return file.subarray(p.offset + offset, p.offset + offset + length)
}

describe('fuzz: the BitTorrent wire (frame guard, parser, swarm handlers)', () => {
  it('the frame guard and parser on any bytes, split anywhere: frames, or a PEERSTAGE_NODE_WIRE_* close; never a buffer past the limit', async () => {
    const max = maxMessageBytes(9)
    const stream = fc.tuple(
      fc.oneof(fc.constant(handshake('ab'.repeat(20))), fc.uint8Array({ minLength: HANDSHAKE_BYTES, maxLength: HANDSHAKE_BYTES })),
      fc.array(actions(9, 200_000).filter((a) => a.kind === 'bytes').map((a) => (a as { bytes: Uint8Array }).bytes), { maxLength: 12 }),
      fc.array(fc.nat({ max: 200 }), { maxLength: 8 }),
    )
    await fuzz('node.wire.frameGuard', stream, async ([hs, messages, cuts]) => {
      const wire = createWire()
      const closes: Array<Error | undefined> = []
      const guard = new FrameGuard(max)
      const carried = carry({ send: () => true, drained: async () => {}, end: () => {} }, wire, { maxMessageBytes: max, onClose: (err) => closes.push(err) })
      const all = Buffer.concat([hs, ...messages])
      // The same bytes through a bare guard, to watch what it holds between arrivals.
      let at = 0
      for (const cut of [...cuts, all.length]) {
        const piece = all.subarray(at, Math.min(all.length, at + cut))
        at += piece.length
        carried.receive(piece)
        try {
          guard.push(piece, () => {})
        } catch (err) {
          expect(WIRE_CODES).toContain((err as { code?: string }).code)
          break
        }
        // Never more than one legal message is held: a claimed 4 GiB is refused before it is allocated.
        const held = (guard as unknown as { partial?: Uint8Array }).partial
        expect(held === undefined || held.length <= 4 + max).toBe(true)
      }
      await tick()
      carried.close()
      expect(closes.length).toBe(1)
      if (closes[0] !== undefined) expect(WIRE_CODES).toContain((closes[0] as { code?: string }).code)
    }, 1000)
  }, fuzzTimeoutMs())

  it('the swarm\'s handlers (a seeding and a leeching swarm) against a hostile peer: strikes and drops, well-formed answers, no availability left once it is gone', async () => {
    const pieceCount = signed.manifest.pieces.length
    const max = maxMessageBytes(pieceCount)
    const maxPiece = Math.max(...signed.manifest.pieces.map((p) => p.length))
    let n = 0
    const input = fc.tuple(fc.boolean(), fc.oneof({ weight: 5, arbitrary: fc.constant<number[]>([0, 0, 0, 0, 0, 0x10, 0, 0]) }, fc.array(fc.nat({ max: 255 }), { minLength: 8, maxLength: 8 })), fc.boolean(), fc.array(actions(pieceCount, maxPiece), { maxLength: 16 }))
    await fuzz('node.wire.swarm', input, async ([leeching, reserved, rightHash, script]) => {
      const runDir = mkdtempSync(join(dir, 'run-'))
      const store = leeching ? await Store.open(join(runDir, 'db')) : undefined
      // A swarm per run (the seeding one over one complete package), so a failure replays alone.
      const swarm = new PackageSwarm(leeching ? await store!.addPackage(signed, join(runDir, 'out')) : seeded, {}, silentLogger())
      const errors: Error[] = []
      swarm.on('error', (err) => errors.push(err))
      const out: Uint8Array[] = []
      const closes: Array<Error | undefined> = []
      const wire: Wire = createWire()
      const carried = carry({ send: (parts) => { out.push(...parts); return true }, drained: async () => {}, end: () => {} }, wire, { maxMessageBytes: max, onClose: (err) => closes.push(err) })
      const peer = { id: `fuzz-peer-${n++}`, ip: '127.0.1.66' }
      // As PeerNode's inbound side: answer a handshake for our package, then the swarm adopts the wire.
      wire.once('handshake', (infoHash: string) => {
        if (infoHash !== infoHashOf(signed.packageId)) return void wire.destroy()
        wire.handshake(infoHash, '77'.repeat(20))
        swarm.adopt(wire, peer)
      })
      try {
        carried.receive(handshake(rightHash ? infoHashOf(signed.packageId) : 'cd'.repeat(20), 0x66, reserved))
        let answered = 0
        for (const a of script) {
          if (a.kind === 'bytes') carried.receive(a.bytes)
          else if (a.kind === 'answer') {
            const asked = requestsIn(Buffer.concat(out))
            const r = asked[answered++]
            if (r !== undefined && r.piece < pieceCount) {
              const block = Buffer.from(blockOf(r.piece, r.offset, r.length))
              if (a.how === 'corrupt') block[0]! ^= 0xff
              const body = a.how === 'short' ? block.subarray(1) : block
              const msg = frame(7, Buffer.concat([Buffer.from(u32(r.piece)), Buffer.from(u32(r.offset)), body]))
              carried.receive(msg)
              if (a.how === 'twice') carried.receive(msg)
            }
          }
          await tick()
        }
        // The peer hangs up; what the swarm writes settles.
        carried.close()
        await tick()
        await swarm.stop()
        expect(errors).toEqual([])
        expect(closes.length).toBe(1)
        if (closes[0] !== undefined && (closes[0] as { code?: string }).code !== undefined) expect(WIRE_CODES).toContain((closes[0] as { code?: string }).code)
        // What we sent is protocol: our own guard takes every byte of it.
        const sent = Buffer.concat(out)
        if (sent.length > 0) new FrameGuard(max).push(sent, () => {})
        for (const r of requestsIn(sent)) {
          expect(r.piece).toBeLessThan(pieceCount)
          expect(r.length >= 1 && r.length <= MAX_BLOCK_BYTES && r.offset + r.length <= signed.manifest.pieces[r.piece]!.length).toBe(true)
        }
        // Nobody is left: no piece may still count as offered (a phantom would keep it from being asked of a DP).
        expect(swarm.peerCount).toBe(0)
        const held = swarm as unknown as { availability: { lan: Uint32Array }, picker: { availability: number[] } }
        expect([...held.availability.lan].every((a) => a === 0), `lan availability ${[...held.availability.lan]}`).toBe(true)
        expect(held.picker.availability.every((a) => a === 0), `availability ${held.picker.availability}`).toBe(true)
      } finally {
        await swarm.stop()
        await store?.close()
        rmSync(runDir, { recursive: true, force: true })
      }
    }, 100)
  }, fuzzTimeoutMs())
})
