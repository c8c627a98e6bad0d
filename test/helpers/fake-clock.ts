import type { Clock } from '../../bandwidth/index.ts'

/** A clock that moves only when the test says so; timers fire in time order. */
export class FakeClock implements Clock {
  private now = 0
  private seq = 0
  private timers: Array<{ at: number, seq: number, fn: () => void }> = []

  nowMs(): number {
    return this.now
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { at: this.now + Math.max(0, ms), seq: this.seq++, fn }
    this.timers.push(timer)
    return () => {
      this.timers = this.timers.filter((t) => t !== timer)
    }
  }

  get pendingTimers(): number {
    return this.timers.length
  }

  /** Moves time forward, firing due timers in order and letting promises settle between. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms
    for (;;) {
      await settle()
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq)
      const next = this.timers[0]
      if (next === undefined || next.at > end) break
      this.timers.shift()
      this.now = next.at
      next.fn()
    }
    this.now = end
    await settle()
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

/**
 * The wall clock a node signs its announces at, under a fake clock: the fake time plus the
 * real time elapsed. The tracker refuses a signature not later than that node's last, and
 * a node restarted while the fake clock stands still would otherwise sign at the same time.
 */
export function signingNow(now: () => Date): () => Date {
  const start = performance.now()
  return () => new Date(now().getTime() + Math.floor(performance.now() - start))
}
