import { isTransient, PeerstageError, writeLine } from '../common/index.ts'
import { TrackerErrorCodes } from '../tracker/client-index.ts'
import { untilSignal } from './signals.ts'

/** Seconds between tries of a service (dp, client) whose tracker is not reachable yet. */
export const SERVICE_RETRY_SECONDS = 5
/** A fetch is a person waiting (or a script that just started the tracker): it tries every second. */
export const FETCH_RETRY_SECONDS = 1
/** How long a fetch waits for a tracker that does not answer, by default. */
export const FETCH_TRACKER_TIMEOUT_SECONDS = 60

export interface TrackerWait {
  /** The command, for its one stderr line: `peerstage fetch: …`. */
  command: string
  /** Seconds between tries. */
  retrySeconds: number
  /** Give up this long after the first failure, with one sentence (UNREACHABLE, exit 1). @default never: a service keeps trying */
  timeoutSeconds?: number
  /** What to say gave the timeout, e.g. `--tracker-timeout`. */
  timeoutOption?: string
}

/**
 * The first announce, tried again while its failure may pass (the tracker not up yet, the
 * network not yet there: a README's block or a service started before its tracker), saying
 * so once on stderr rather than at every try. A refusal (token, signature, certificate) is
 * thrown at once. Undefined when a signal stops the wait.
 */
export async function untilTrackerAnswers<T>(start: () => Promise<T>, wait: TrackerWait): Promise<T | undefined> {
  const startedMs = performance.now()
  for (let said = false; ; said = true) {
    let failure: Error
    try {
      return await start()
    } catch (err) {
      if (!isTransient(err)) throw err
      failure = err as Error
    }
    const waitedSeconds = (performance.now() - startedMs) / 1000
    const { timeoutSeconds } = wait
    if (timeoutSeconds !== undefined && waitedSeconds >= timeoutSeconds) {
      throw new PeerstageError(TrackerErrorCodes.UNREACHABLE, `no tracker answered within ${timeoutSeconds} s (${wait.timeoutOption ?? 'timeout'}): ${failure.message}; is it running, and is the URL right?`, { cause: failure })
    }
    if (!said) {
      const bound = timeoutSeconds === undefined ? '' : `, for up to ${timeoutSeconds} s (${wait.timeoutOption ?? 'timeout'})`
      writeLine(`peerstage ${wait.command}: ${failure.message}; trying again every ${wait.retrySeconds} s${bound}`)
    }
    const pause = timeoutSeconds === undefined ? wait.retrySeconds : Math.min(wait.retrySeconds, Math.max(0, timeoutSeconds - waitedSeconds))
    if (await untilSignal(pause)) return undefined
  }
}
