/**
 * An independent FastCDC 2020 in BigInt, one byte per step, written from the fixture's
 * README rather than from the production code: the tests compare the two.
 */
import { readFileSync } from 'node:fs'

// A copy of ../shared/fixtures/fastcdc2020, so a clone tests anywhere.
const FIXTURES = new URL('../fixtures/fastcdc2020/', import.meta.url)
const U64 = (1n << 64n) - 1n

function table(name: string): bigint[] {
  return readFileSync(new URL(name, FIXTURES), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => BigInt(l.trim()))
}

export const fixturePath = (name: string): URL => new URL(name, FIXTURES)

const GEAR = table('gear.txt')
const MASKS = table('masks.txt')

export function referenceChunks(data: Uint8Array, min: number, avg: number, max: number, level: number): number[] {
  const bits = Math.round(Math.log2(avg))
  const maskS = MASKS[bits + level]!
  const maskL = MASKS[bits - level]!
  const out: number[] = []
  let start = 0
  while (start < data.length) {
    let remaining = data.length - start
    if (remaining <= min) {
      out.push(remaining)
      break
    }
    let center = avg
    if (remaining > max) remaining = max
    else if (remaining < center) center = remaining
    // The crate steps two bytes at a time: a byte is tested against maskS while its pair
    // lies before center (rounded down to even), and an odd last byte is never tested.
    const centerEven = center & ~1
    const endEven = remaining & ~1
    let h = 0n
    let len = remaining
    for (let i = min & ~1; i < endEven; i++) {
      h = ((h << 1n) + GEAR[data[start + i]!]!) & U64
      if ((h & (i < centerEven ? maskS : maskL)) === 0n) {
        len = i
        break
      }
    }
    out.push(len)
    start += len
  }
  return out
}
