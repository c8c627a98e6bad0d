/**
 * Redis URLs, apart from the client so the config and the CLI check and show them without
 * loading ioredis: `redis://HOST:PORT/DB`, or `rediss://` for TLS (Valkey speaks the same).
 */

/** The URL when it names a Redis: redis:// or rediss://, a host, and a DB number or none; else undefined. */
export function parseRedisUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  return ['redis:', 'rediss:'].includes(url.protocol) && url.hostname !== '' && /^(\/\d*)?$/.test(url.pathname) ? url : undefined
}

/** The URL as it may be shown in messages and output: its password replaced by `***`. */
export function shownRedisUrl(url: URL): string {
  const shown = new URL(url.href)
  if (shown.password !== '') shown.password = '***'
  return shown.href
}
