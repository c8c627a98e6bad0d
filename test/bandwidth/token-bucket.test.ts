import { describe, expect, it } from 'vitest'
import { BandwidthHierarchy, LimiterChain, TokenBucket, UNLIMITED, throttle } from '../../bandwidth/index.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

function tracked(p: Promise<void>): { done: () => boolean, error: () => unknown } {
  let done = false
  let error: unknown
  p.then(() => { done = true }, (e) => { error = e })
  return { done: () => done, error: () => error }
}

describe('TokenBucket', () => {
  it('starts empty and waits exactly the deficit', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 1000, capacityBytes: 4000 }, { clock })
    const t = tracked(b.take(500))
    await clock.advance(499)
    expect(t.done()).toBe(false)
    await clock.advance(1)
    expect(t.done()).toBe(true)
  })

  it('lets an idle bucket fill to capacity, and no further', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 1000, capacityBytes: 2000 }, { clock })
    await clock.advance(10_000)
    expect(b.tryTake(2000)).toBe(true)
    expect(b.tryTake(1)).toBe(false)
  })

  it('serves waiters first in, first out: a large request is not starved by small ones', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 1000, capacityBytes: 4000 }, { clock })
    const order: string[] = []
    const big = b.take(3000).then(() => order.push('big'))
    const smalls = [1, 2, 3].map((i) => b.take(10).then(() => order.push(`small${i}`)))
    await clock.advance(2999)
    expect(order).toEqual([])
    await clock.advance(1)
    await clock.advance(30)
    await Promise.all([big, ...smalls])
    expect(order).toEqual(['big', 'small1', 'small2', 'small3'])
  })

  it('passes a request larger than the capacity once full, and makes later ones repay the debt', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 1000, capacityBytes: 1000 }, { clock })
    const big = tracked(b.take(5000))
    await clock.advance(1000)
    expect(big.done()).toBe(true)
    const next = tracked(b.take(100))
    await clock.advance(4000 + 99)
    expect(next.done()).toBe(false)
    await clock.advance(1)
    expect(next.done()).toBe(true)
  })

  it('applies setRate to a request already waiting', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 100, capacityBytes: 10_000 }, { clock })
    const t = tracked(b.take(1000)) // 10 s at 100 B/s
    await clock.advance(5000) // 500 tokens so far
    b.setRate(1000) // the other 500 take 0.5 s
    await clock.advance(499)
    expect(t.done()).toBe(false)
    await clock.advance(1)
    expect(t.done()).toBe(true)
  })

  it('holds everything at rate 0 and lets it go when reopened', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 0, capacityBytes: 1000 }, { clock })
    const t = tracked(b.take(100))
    await clock.advance(3_600_000)
    expect(t.done()).toBe(false)
    expect(clock.pendingTimers).toBe(0) // closed means no timer spinning
    b.setRate(1000)
    await clock.advance(100)
    expect(t.done()).toBe(true)
  })

  it('lets everything through at once when unlimited', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: UNLIMITED }, { clock })
    await b.take(10 ** 12)
    expect(b.tryTake(10 ** 9)).toBe(true)
    b.setRate(1000) // back to metered, with a full bucket
    expect(b.tryTake(b.capacityBytes)).toBe(true)
    expect(b.tryTake(1)).toBe(false)
  })

  it('keeps the long-run rate exact', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 1_000_000, capacityBytes: 256 * 1024 }, { clock })
    let moved = 0
    const writer = (async () => {
      while (clock.nowMs() < 10_000) {
        await b.take(65_536)
        moved += 65_536
      }
    })()
    await clock.advance(10_000)
    expect(moved).toBeGreaterThanOrEqual(10_000_000 - 65_536)
    expect(moved).toBeLessThanOrEqual(10_000_000 + 65_536)
    await clock.advance(100)
    await writer
  })

  it('drops a waiter whose signal aborts, and serves the next', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 1000, capacityBytes: 10_000 }, { clock })
    const ac = new AbortController()
    const first = tracked(b.take(5000, ac.signal))
    const second = tracked(b.take(100))
    ac.abort()
    await clock.advance(100)
    expect(first.error()).toMatchObject({ code: 'PEERSTAGE_BANDWIDTH_ABORTED' })
    expect(second.done()).toBe(true)
  })

  it('refuses nonsense', async () => {
    expect(() => new TokenBucket({ rateBytesPerSec: -1 })).toThrow(RangeError)
    return expect(new TokenBucket({ rateBytesPerSec: 10 }).take(Number.NaN)).rejects.toThrow(RangeError)
  })
})

describe('limiter hierarchy', () => {
  it('is governed by its slowest level', async () => {
    const clock = new FakeClock()
    const h = new BandwidthHierarchy({ capacityBytes: 100_000 }, { clock })
    h.setRate('global', undefined, 10_000)
    h.setRate('subnet', '127.0.1.0/24', 1_000)
    h.setRate('peer', 'peerA', 5_000)
    const chain = h.limiterFor({ subnet: '127.0.1.0/24', peer: 'peerA' })
    expect(chain.limiters).toHaveLength(3)
    const t = tracked(chain.take(2000))
    await clock.advance(1999)
    expect(t.done()).toBe(false)
    await clock.advance(1)
    expect(t.done()).toBe(true)
    // Another subnet only meets the global level.
    expect(h.limiterFor({ subnet: '127.0.2.0/24' }).limiters).toHaveLength(1)
    expect(h.rateOf('subnet', '127.0.1.0/24')).toBe(1000)
  })

  it('an empty chain does not wait', async () => {
    await new LimiterChain([undefined]).take(10 ** 9)
  })

  it('throttles an async iterable slice by slice', async () => {
    const clock = new FakeClock()
    const b = new TokenBucket({ rateBytesPerSec: 1000, capacityBytes: 1000 }, { clock })
    async function* source() { yield new Uint8Array(2500) }
    const got: number[] = []
    const done = (async () => { for await (const part of throttle(source(), b, { sliceBytes: 1000 })) got.push(part.length) })()
    await clock.advance(1999)
    expect(got).toEqual([1000])
    await clock.advance(1)
    expect(got).toEqual([1000, 1000])
    await clock.advance(499)
    expect(got).toEqual([1000, 1000])
    await clock.advance(1)
    await done
    expect(got).toEqual([1000, 1000, 500])
  })
})
