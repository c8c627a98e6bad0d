import { describe, expect, it } from 'vitest'
import { PiecePicker, type BlockRequest } from '../../node/picker.ts'

const KIB = 1024

function picker(pieceLengths: number[], have: (piece: number) => boolean = () => false): PiecePicker {
  return new PiecePicker({ pieceLengths, blockBytes: 128 * KIB, have, random: () => 0 })
}

/** Every block `peer` is given, until the picker has nothing more. */
function drain(p: PiecePicker, peer: string, has: (piece: number) => boolean = () => true): BlockRequest[] {
  const out: BlockRequest[] = []
  for (let r = p.next(peer, has); r !== undefined; r = p.next(peer, has)) out.push(r)
  return out
}

describe('piece picker', () => {
  it('cuts a whole piece into max-size blocks, the last one short', () => {
    const p = picker([300 * KIB])
    expect(drain(p, 'a')).toEqual([
      { piece: 0, offset: 0, length: 128 * KIB },
      { piece: 0, offset: 128 * KIB, length: 128 * KIB },
      { piece: 0, offset: 256 * KIB, length: 44 * KIB },
    ])
  })

  it('starts the rarest piece first, urgent ones before it', () => {
    const p = picker([KIB, KIB, KIB])
    p.addAvailability(0, 3)
    p.addAvailability(1, 1)
    p.addAvailability(2, 2)
    expect(p.next('a', () => true)?.piece).toBe(1)
    p.markUrgent(0)
    expect(p.next('a', () => true)?.piece).toBe(0)
  })

  it('takes new pieces in the order of a rank when given one (a WAN share), not by rarity', () => {
    const rank = (i: number): number => (i >= 2 ? i - 2 : 8 - i) // pieces 2, 3, then from the far end: 1, 0
    const order = (withRank: boolean): number[] => {
      const p = picker([KIB, KIB, KIB, KIB])
      p.addAvailability(2, 1)
      const out: number[] = []
      for (let r = p.next('a', () => true, withRank ? rank : undefined); r !== undefined; r = p.next('a', () => true, withRank ? rank : undefined)) out.push(r.piece)
      return out
    }
    expect(order(false)).toEqual([0, 1, 3, 2]) // rarest first
    expect(order(true)).toEqual([2, 3, 1, 0])
  })

  it('asks only for the ranges set, each cut at its exact offsets', () => {
    const p = picker([2048 * KIB])
    p.setRanges(0, [{ offset: 70_000, length: 300 * KIB }, { offset: 2000 * KIB, length: 48 * KIB }])
    expect(p.blocksOf(0)).toEqual([
      { offset: 70_000, length: 128 * KIB },
      { offset: 70_000 + 128 * KIB, length: 128 * KIB },
      { offset: 70_000 + 256 * KIB, length: 44 * KIB },
      { offset: 2000 * KIB, length: 48 * KIB },
    ])
    const asked = drain(p, 'a')
    expect(asked.map((r) => r.offset)).toEqual(p.blocksOf(0).map((b) => b.offset))
    // The piece is whole once those blocks are in, found by offset, in any order.
    const done = [...asked].reverse().map((r) => p.received(0, r.offset, 'a', r.length).pieceDone)
    expect(done).toEqual([false, false, false, true])
  })

  it('a block of another layout at the same offset is not taken for the one asked', () => {
    const p = picker([256 * KIB])
    p.setRanges(0, [{ offset: 0, length: 50_000 }])
    expect(drain(p, 'a')).toEqual([{ piece: 0, offset: 0, length: 50_000 }])
    expect(p.received(0, 0, 'a', 128 * KIB)).toEqual({ wanted: false, duplicatesAt: [], pieceDone: false })
    expect(p.received(0, 0, 'a', 50_000)).toEqual({ wanted: true, duplicatesAt: [], pieceDone: true })
    expect(p.received(0, 0, 'a', 50_000).wanted).toBe(false) // already in
  })

  it('fetches the whole piece again after its ranges are dropped (from its next start)', () => {
    const p = picker([256 * KIB])
    p.setRanges(0, [{ offset: 100, length: 100 }])
    expect(drain(p, 'a')).toEqual([{ piece: 0, offset: 100, length: 100 }])
    p.setRanges(0, undefined)
    expect(p.blocksOf(0)).toEqual([{ offset: 100, length: 100 }]) // the started piece keeps its blocks
    p.finish(0)
    expect(drain(p, 'a').map((r) => [r.offset, r.length])).toEqual([[0, 128 * KIB], [128 * KIB, 128 * KIB]])
  })

  it('in endgame asks a second peer for a custom block and cancels the loser', () => {
    const p = picker([256 * KIB])
    p.setRanges(0, [{ offset: 1000, length: 2000 }])
    expect(drain(p, 'a')).toHaveLength(1)
    expect(drain(p, 'b')).toEqual([{ piece: 0, offset: 1000, length: 2000 }])
    expect(p.received(0, 1000, 'b', 2000)).toEqual({ wanted: true, duplicatesAt: ['a'], pieceDone: true })
  })

  it('a failed custom block is asked again', () => {
    const p = picker([256 * KIB])
    p.setRanges(0, [{ offset: 1000, length: 2000 }])
    drain(p, 'a')
    p.failed(0, 1000, 'a', 2000)
    expect(p.next('b', () => true)).toEqual({ piece: 0, offset: 1000, length: 2000 })
  })

  it('rejects ranges that overlap, are empty or leave the piece', () => {
    const p = picker([KIB])
    expect(() => p.setRanges(0, [])).toThrow(RangeError)
    expect(() => p.setRanges(0, [{ offset: 0, length: 0 }])).toThrow(RangeError)
    expect(() => p.setRanges(0, [{ offset: 0, length: 600 }, { offset: 500, length: 10 }])).toThrow(RangeError)
    expect(() => p.setRanges(0, [{ offset: 1000, length: 25 }])).toThrow(RangeError)
    expect(() => p.setRanges(1, [{ offset: 0, length: 1 }])).toThrow(RangeError)
  })
})
