/** Samples kept: enough for one with a short round trip among them, few enough to follow drift. */
const SAMPLES_KEPT = 8

/** One reading of the tracker's clock: local times around the request, and the tracker's time in its answer. */
interface Sample {
  /** Lowest and highest tracker-minus-local offsets this reading allows, ms. */
  low: number
  high: number
}

/**
 * The tracker's clock as this node estimates it, so deployments run by the tracker's time
 * (mandatory times, windows) whatever this machine's clock says, and announces are signed
 * at a time the tracker accepts. Each announce answer carries the tracker's time T; the
 * tracker read it somewhere between our send and our receipt, so the offset lies in
 * [T − received, T − sent]: an interval as wide as the round trip. The estimate is the
 * highest low end of the last few readings (the tightest bound among them, so a slow round
 * trip does not widen it): the tracker's time is never overestimated and a mandatory time
 * never comes early — at most one short round trip late. A reading that contradicts the
 * others (the tracker's clock was stepped) starts over from it. Before any reading: the
 * local clock.
 */
export class TrackerClock {
  private readonly localNowMs: () => number
  private samples: Sample[] = []

  constructor(localNowMs: () => number) {
    this.localNowMs = localNowMs
  }

  /** The local clock, as the readings are to be taken. */
  localMs(): number {
    return this.localNowMs()
  }

  /** The tracker's time now, never ahead of it (given an accurate reading), ms since the epoch. */
  nowMs(): number {
    return this.localNowMs() + this.offsetMs
  }

  /** What to add to a local time to get the tracker's, ms (0 before any reading). */
  get offsetMs(): number {
    if (this.samples.length === 0) return 0
    return Math.max(...this.samples.map((s) => s.low))
  }

  /** Readings taken so far (kept: the last few). */
  get sampleCount(): number {
    return this.samples.length
  }

  /** Notes one reading: the tracker said `trackerMs` to a request sent at local `sentMs`, answered at local `receivedMs`. */
  sample(sentMs: number, receivedMs: number, trackerMs: number): void {
    if (!Number.isFinite(trackerMs) || !Number.isFinite(sentMs) || !(receivedMs >= sentMs)) return
    const s: Sample = { low: trackerMs - receivedMs, high: trackerMs - sentMs }
    const contradicts = this.samples.some((o) => o.low > s.high || o.high < s.low)
    this.samples = contradicts ? [s] : [...this.samples, s].slice(-SAMPLES_KEPT)
  }
}
