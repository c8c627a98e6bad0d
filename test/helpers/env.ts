/**
 * This process's environment without libfaketime's preload, for programs that must keep the
 * real clock when the suite runs under `faketime`: redis-server hangs under it at start,
 * chromium crawls. Neither's clock decides anything a test checks.
 */
export function withoutFaketime(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== 'LD_PRELOAD' && !e[0].startsWith('FAKETIME')))
}
