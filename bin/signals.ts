/** Resolves on SIGINT or SIGTERM (or after `seconds`, when given). */
export function untilSignal(seconds?: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      clearTimeout(timer)
      resolve()
    }
    const timer = seconds === undefined ? undefined : setTimeout(done, seconds * 1000)
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
}
