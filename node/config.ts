import { isIP } from 'node:net'
import { hostname } from 'node:os'
import type { SignedManifest } from '../chunker/index.ts'
import { MAX_NODE_NAME_CHARS, NODE_NAME } from '../tracker/protocol/index.ts'
import type { PeerNodeInit } from './peer-node.ts'

/** What every role of a node takes: the PeerNode's own settings, and the service's. */
export interface NodeInit extends Pick<PeerNodeInit, 'dataDir' | 'swarmKey' | 'listen' | 'dialFrom' | 'bulk' | 'bulkPort'> {
  /** Serve Prometheus metrics at http://HOST:PORT/metrics. */
  metricsListen?: string
  /**
   * What people call this node: sent with every announce, shown beside its peer id and
   * address by `status` and `deploy show`. One word, at most MAX_NODE_NAME_CHARS.
   * @default the host name
   */
  name?: string
  /**
   * Announce to this tracker (`http://host:port` or `https://…`) with this token, or to the
   * first of several of one estate that answers; none: a node on its own. `ca`: PEM
   * certificates to trust for an `https://` tracker instead of Node's default store.
   */
  tracker?: { url: string | readonly string[], token?: string, ca?: string | Buffer }
  /** Wait before retrying a failed announce or budget poll, ms. @default 5000 */
  retryMs?: number
  /** Longest wait of one budgets long-poll (DP), seconds. @default 25 */
  budgetWaitSeconds?: number
}

export interface DpInit extends NodeInit {
  /** Packages seeded from their source directories in place. */
  publish?: Array<{ signed: SignedManifest, source: string }>
  /** A cap per destination /24 on top of the tracker's budgets, bytes/s. @default none */
  uploadLimitBytesPerSec?: number
  /** Publishers whose packages this DP replicates; undefined: any the tracker lists. */
  trusted?: string[]
}

export interface ClientInit extends NodeInit {
  /** Publishers whose packages this client runs. */
  trusted: string[]
  /** Keep the packages under this many bytes, evicting least recently used unneeded ones. @default no limit */
  cacheMaxBytes?: number
  /** At stop, a running program gets this long before it is terminated, ms. @default 30000 */
  stopGraceMs?: number
}

export interface FetcherInit extends NodeInit {
  /** Pace every download to this, bytes/s. @default none */
  downloadLimitBytesPerSec?: number
}

/**
 * Checks a role's init and fills its defaults; a RangeError names the key and the rule it
 * breaks (the CLI reports it as a usage error).
 */
export function createNodeConfig<T extends NodeInit>(init: T): T & Required<Pick<NodeInit, 'name' | 'listen' | 'bulk' | 'bulkPort' | 'retryMs' | 'budgetWaitSeconds'>> {
  const bad = (key: string, rule: string): never => { throw new RangeError(`${key} ${rule}`) }
  if (typeof init.dataDir !== 'string' || init.dataDir === '') bad('dataDir', 'must name a directory')
  if (init.name !== undefined && !(typeof init.name === 'string' && NODE_NAME.test(init.name) && init.name.length <= MAX_NODE_NAME_CHARS)) {
    bad('name', `must be one word of at most ${MAX_NODE_NAME_CHARS} characters, no spaces, got '${String(init.name)}'`)
  }
  if (!(init.swarmKey instanceof Uint8Array) || init.swarmKey.length === 0) bad('swarmKey', 'must be the bytes of a swarm key file')
  for (const a of init.listen ?? []) if (!a.startsWith('/')) bad('listen', `takes multiaddrs like /ip4/0.0.0.0/tcp/7000, got '${a}'`)
  if (init.dialFrom !== undefined && isIP(init.dialFrom) === 0) bad('dialFrom', `must be an IP address, got '${init.dialFrom}'`)
  if (init.bulkPort !== undefined && !(Number.isInteger(init.bulkPort) && init.bulkPort >= 0 && init.bulkPort <= 65535)) bad('bulkPort', `takes a TCP port (0-65535) or 'off', got '${init.bulkPort}'`)
  if (init.metricsListen !== undefined && !/^.+:\d+$/.test(init.metricsListen)) bad('metricsListen', `takes HOST:PORT, got '${init.metricsListen}'`)
  for (const url of [init.tracker?.url ?? []].flat()) if (!/^https?:\/\//.test(url)) bad('tracker', `must be a URL like http://10.0.0.5:7070, got '${url}'`)
  if (init.tracker !== undefined && [init.tracker.url].flat().length === 0) bad('tracker', 'must name at least one URL')
  for (const key of ['retryMs', 'budgetWaitSeconds', 'uploadLimitBytesPerSec', 'downloadLimitBytesPerSec', 'cacheMaxBytes'] as const) {
    const v = (init as Record<string, unknown>)[key]
    if (v !== undefined && !(typeof v === 'number' && v > 0)) bad(key, `must be a number > 0, got '${String(v)}'`)
  }
  const grace = (init as Partial<ClientInit>).stopGraceMs
  if (grace !== undefined && !(grace >= 0)) bad('stopGraceMs', `must be a number >= 0, got '${grace}'`)
  return { ...init, name: init.name ?? defaultName(), listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'], bulk: init.bulk ?? true, bulkPort: init.bulkPort ?? 0, retryMs: init.retryMs ?? 5000, budgetWaitSeconds: init.budgetWaitSeconds ?? 25 }
}

/** The host name, cut to what the tracker takes; `node` should the system have none. */
function defaultName(): string {
  const host = hostname().replace(/\s+/g, '-').slice(0, MAX_NODE_NAME_CHARS)
  return NODE_NAME.test(host) ? host : 'node'
}
