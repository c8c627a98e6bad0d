import { formatBytes, formatDuration } from './format.ts'

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
}

export interface Progress {
  /** Set the bytes done so far (monotonic). */
  update(doneBytes: number): void
  /** Draw the final state and end the line. */
  done(): void
}

/**
 * A one-line progress bar with rate and ETA on a terminal; silent elsewhere, so pipes,
 * logs and `--json` stay clean.
 */
export function createProgress(init: ProgressInit): Progress {
  const stream = init.stream ?? process.stderr
  if (!stream.isTTY) return { update() {}, done() {} }
  const interval = init.redrawIntervalMs ?? 200
  const started = performance.now()
  let lastDraw = 0
  let done = 0

  const draw = (): void => {
    const seconds = (performance.now() - started) / 1000
    const rate = seconds > 0 ? done / seconds : 0
    const fraction = init.totalBytes > 0 ? Math.min(1, done / init.totalBytes) : 1
    const width = 24
    const filled = Math.round(fraction * width)
    const eta = rate > 0 ? (init.totalBytes - done) / rate : Number.NaN
    const line = `${init.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` +
      `${(fraction * 100).toFixed(1)}% ${formatBytes(done)}/${formatBytes(init.totalBytes)} ` +
      `${formatBytes(rate)}/s ETA ${formatDuration(eta)}${init.detail ? ` ${init.detail()}` : ''}`
    stream.write(`\r${line}\x1b[K`)
  }

  return {
    update(doneBytes) {
      done = doneBytes
      const now = performance.now()
      if (now - lastDraw >= interval) {
        lastDraw = now
        draw()
      }
    },
    done() {
      draw()
      stream.write('\n')
    },
  }
}
