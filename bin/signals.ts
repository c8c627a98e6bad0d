/** Resolves on SIGINT or SIGTERM with true (or after `seconds`, when given, with false). */
export function untilSignal(seconds?: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (signalled: boolean): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      clearTimeout(timer)
      resolve(signalled)
    }
    const onSignal = (): void => done(true)
    const timer = seconds === undefined ? undefined : setTimeout(() => done(false), seconds * 1000)
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  })
}
