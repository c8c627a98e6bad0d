import { formatBytes, formatDuration } from './format.ts'
import { endStatusLine, inForegroundOfTerminal, showStatusLine } from './terminal.ts'

export interface ProgressInit {
  /** What is being done, e.g. "packing". */
  label: string
  /** Total bytes expected. */
  totalBytes: number
  /** Where to draw; nothing is drawn unless it is a TTY. @default process.stderr */
  stream?: NodeJS.WriteStream
  /** @default 200 */
  redrawIntervalMs?: number
  /** More to show after the ETA, e.g. "3 peers". */
  detail?: () => string
  /** Milliseconds of a monotonic clock. @default performance.now */
  now?: () => number
  /** Whether to draw now (checked at most once a second). @default inForegroundOfTerminal */
  inForeground?: () => boolean
}

export interface Progress {
  /** Set the bytes done so far (monotonic). */
  update(doneBytes: number): void
  /** Draw the final state and end the line. */
  done(): void
}

/**
 * No rate is shown before this much time has passed since the first update: the first
 * sample of a read from the page cache is a few MiB in a few microseconds (a pack bar once
 * read 504.6 GiB/s).
 */
export const RATE_MIN_SPAN_MS = 1000
/** The rate is the bytes of the last this many milliseconds, so one burst or stall does not swing it. */
export const RATE_WINDOW_MS = 5000

/**
 * The rate of the bytes done over a sliding window of samples, undefined until the samples
 * span RATE_MIN_SPAN_MS. Bytes done before the first sample (resumed, reused) do not count.
 */
export class RateWindow {
  private readonly samples: Array<{ at: number, bytes: number }> = []

  add(at: number, bytes: number): void {
    this.samples.push({ at, bytes })
    // Keep the newest sample at least a window old, so the window is always full once it can be.
    while (this.samples.length > 2 && at - this.samples[1]!.at >= RATE_WINDOW_MS) this.samples.shift()
  }

  /** Bytes per second, or undefined while too little time has passed to tell. */
  rate(): number | undefined {
    const first = this.samples[0]
    const last = this.samples.at(-1)
    if (first === undefined || last === undefined || last.at - first.at < RATE_MIN_SPAN_MS) return undefined
    return (last.bytes - first.bytes) / ((last.at - first.at) / 1000)
  }
}

/**
 * A one-line progress bar with rate and ETA on a terminal; silent elsewhere, so pipes,
 * logs and `--json` stay clean, and silent in the background of a terminal. Log lines
 * written meanwhile (common/terminal.ts) appear above it.
 */
export function createProgress(init: ProgressInit): Progress {
  const stream = init.stream ?? process.stderr
  if (!stream.isTTY) return { update() {}, done() {} }
  const interval = init.redrawIntervalMs ?? 200
  const now = init.now ?? (() => performance.now())
  const inForeground = init.inForeground ?? inForegroundOfTerminal
  const window = new RateWindow()
  let lastDraw = Number.NEGATIVE_INFINITY
  let foreground = { at: Number.NEGATIVE_INFINITY, value: true }
  let done = 0

  const line = (): string => {
    const rate = window.rate()
    const fraction = init.totalBytes > 0 ? Math.min(1, done / init.totalBytes) : 1
    const width = 24
    const filled = Math.round(fraction * width)
    const eta = rate !== undefined && rate > 0 ? (init.totalBytes - done) / rate : Number.NaN
    const text = `${init.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` +
      `${(fraction * 100).toFixed(1)}% ${formatBytes(done)}/${formatBytes(init.totalBytes)} ` +
      `${rate === undefined ? '--' : formatBytes(rate)}/s ETA ${formatDuration(eta)}${init.detail ? ` ${init.detail()}` : ''}`
    // A line wider than the terminal wraps, and `\r` then returns to its last row only.
    const columns = stream.columns > 0 ? stream.columns : 0
    return columns > 1 && text.length >= columns ? text.slice(0, columns - 1) : text
  }

  const visible = (at: number): boolean => {
    if (at - foreground.at >= 1000) foreground = { at, value: inForeground() }
    return foreground.value
  }

  return {
    update(doneBytes) {
      done = doneBytes
      const at = now()
      if (at - lastDraw < interval) return
      lastDraw = at
      window.add(at, done)
      if (visible(at)) showStatusLine(stream, line())
      else endStatusLine(stream, false)
    },
    done() {
      window.add(now(), done)
      if (visible(now())) showStatusLine(stream, line())
      endStatusLine(stream, true)
    },
  }
}
