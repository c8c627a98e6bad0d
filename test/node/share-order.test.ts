import { describe, expect, it } from 'vitest'
import { localShare, shareRun } from '../../node/share-order.ts'

/** The pieces in the order the share pulls them. */
const order = (pieces: number, index: number, of: number): number[] => {
  const { rank } = shareRun(pieces, { index, of })
  return Array.from({ length: pieces }, (_, i) => i).sort((a, b) => rank(a) - rank(b))
}

describe('share order', () => {
  it('pulls its own run upward, then the next runs, each from its far end down', () => {
    expect(order(9, 0, 3)).toEqual([0, 1, 2, 5, 4, 3, 8, 7, 6])
    expect(order(9, 1, 3)).toEqual([3, 4, 5, 8, 7, 6, 2, 1, 0])
    expect(order(9, 2, 3)).toEqual([6, 7, 8, 2, 1, 0, 5, 4, 3])
    expect(order(5, 0, 1)).toEqual([0, 1, 2, 3, 4])
  })

  it('every run has its owner climbing it and exactly one other share coming down it first', () => {
    for (const [pieces, of] of [[128, 8], [10, 3], [7, 7], [3, 5]] as const) {
      const runs = Array.from({ length: of }, (_, k) => shareRun(pieces, { index: k, of }))
      for (const [k, run] of runs.entries()) {
        if (run.start === run.end) continue
        // Which share takes this run's last piece right after its own run?
        const next = runs.filter((r, j) => j !== k && r.end > r.start && order(pieces, j, of)[r.end - r.start] === run.end - 1)
        expect(next.length, `run ${k} of ${of} (${pieces} pieces)`).toBeLessThanOrEqual(1)
        expect(order(pieces, k, of).slice(0, run.end - run.start)).toEqual(Array.from({ length: run.end - run.start }, (_, i) => run.start + i))
      }
    }
  })

  it('a share that makes no sense is the whole package', () => {
    expect(order(4, 3, 2)).toEqual([0, 1, 2, 3])
    expect(order(4, -1, 2)).toEqual([0, 1, 2, 3])
  })

  it('without a tracker: ours by sorted peer id, the same on every node that sees the same peers', () => {
    expect(localShare('b', ['c', 'a'])).toEqual({ index: 1, of: 3 })
    expect(localShare('a', ['b', 'c'])).toEqual({ index: 0, of: 3 })
    expect(localShare('a', ['a'])).toEqual({ index: 0, of: 1 })
  })
})
