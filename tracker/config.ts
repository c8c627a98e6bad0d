import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { BandwidthErrorCodes, checkTimeZone, parseSchedule, type Schedule } from '../bandwidth/index.ts'
import { loadPublicKey, publisherOf } from '../chunker/index.ts'
import { isPeerstageError } from '../common/index.ts'
import { parseCidr, TrackerErrorCodes, trackerError, type Cidr } from './protocol/index.ts'
import { tlsFilesOf, tokenOf, type TlsFiles } from './secrets.ts'
import { RATE_LIMIT_DEFAULTS, type RateLimitConfig } from './rate-limit.ts'
import { parseRedisUrl } from './store/redis-url.ts'

/** A scope's WAN rules: a bandwidth schedule plus how many clients may pull at once. */
export interface WanPolicy {
  schedule: Schedule
  /** undefined: inherit from the wider scope (site, then global, then 1). */
  maxWanClients: number | undefined
}

export interface SiteConfig {
  name: string
  timeZone: string
  subnets: Cidr[]
  wan: WanPolicy
  /** The site this one's DPs replicate from; undefined: a root site. */
  parent: string | undefined
  /** What the parent's DPs may send this site's DPs, by window; undefined when there is no parent (with a parent and no `link:`, unlimited). */
  link: Schedule | undefined
  /** `NAME@VERSION` globs (`*` any run of characters, `?` one) of the catalogue packages the site's DPs hold. @default ['*'] */
  replicate: string[]
}

export interface DpConfig {
  peerId: string
  /** Sites this DP serves beyond its own: their clients get it in the `dp` tier. */
  serves: string[]
}

export interface TrackerConfig {
  /** @default '127.0.0.1:7070' */
  listen: string
  /**
   * `redis://HOST:PORT/DB`: the store several tracker replicas share. undefined: the
   * embedded level store in the tracker's data directory (one tracker).
   */
  store: string | undefined
  /** HTTPS with this certificate and key (PEM files, reloaded on SIGHUP and on change); undefined: plain HTTP. */
  tls: TlsFiles | undefined
  /** Each token from `NAME: T` or `NAMEFile: PATH` (secrets.ts). */
  adminToken: string
  dpToken: string
  /** When set, clients must announce with it. */
  clientToken: string | undefined
  /**
   * The read-only role: when set, every read route (status, deployments, packages, throttle
   * show, /metrics, the dashboard's) needs it or the adminToken; undefined: open.
   * `dashboardToken` is its old name, accepted for a release.
   */
  viewerToken: string | undefined
  /** @default 30 */
  announceIntervalSeconds: number
  /** A registration not renewed for this long is dropped. @default 3 × announceIntervalSeconds */
  registrationSeconds: number
  /** A lease not renewed for this long moves on. @default 3 × announceIntervalSeconds */
  leaseSeconds: number
  /** Peers handed out per package per announce. @default 30 */
  maxPeers: number
  /** Rules for every subnet that its site does not override. */
  wan: WanPolicy
  sites: SiteConfig[]
  dps: DpConfig[]
  /**
   * Publishers (`ed25519:<base64>`, as manifests name them) whose packages may be deployed,
   * from the `trust:` key files. Empty: every deployment is refused.
   */
  trusted: string[]
  /** Requests per source address (tracker/rate-limit.ts). @default RATE_LIMIT_DEFAULTS */
  rateLimit: RateLimitConfig
}

export interface TrackerConfigOptions {
  /** Where relative `trust:`, `tls:` and token file paths start. @default process.cwd() (readTrackerConfig: the config file's directory) */
  baseDir?: string
}

const TOKENS = ['adminToken', 'dpToken', 'clientToken', 'viewerToken', 'dashboardToken'].flatMap((t) => [t, `${t}File`])
const TOP_KEYS = ['listen', 'store', 'tls', ...TOKENS, 'announceIntervalSeconds', 'registrationSeconds', 'leaseSeconds', 'maxPeers', 'wan', 'sites', 'dps', 'trust', 'rateLimit']
const SITE_KEYS = ['name', 'timezone', 'subnets', 'wan', 'parent', 'link', 'replicate']
const DP_KEYS = ['peerId', 'serves']
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

function bad(key: string, rule: string): never {
  throw trackerError(TrackerErrorCodes.BAD_CONFIG, `${key} ${rule}`, { details: { key } })
}

function mapping(value: unknown, key: string, allowed: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(key, 'must be a mapping')
  const m = value as Record<string, unknown>
  for (const k of Object.keys(m)) if (!allowed.includes(k)) bad(`${key === '' ? '' : `${key}.`}${k}`, `is not a known key (expected one of ${allowed.join(', ')})`)
  return m
}

function list(value: unknown, key: string): unknown[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) bad(key, 'must be a list')
  return value
}

/** `viewerToken`, or `dashboardToken`, its old name (one of the two). */
function viewerToken(top: Record<string, unknown>, baseDir: string): string | undefined {
  const given = (name: string): boolean => top[name] !== undefined || top[`${name}File`] !== undefined
  if (given('viewerToken') && given('dashboardToken')) bad('dashboardToken', 'is the old name of viewerToken: give only viewerToken')
  return tokenOf(top, given('dashboardToken') ? 'dashboardToken' : 'viewerToken', baseDir, false)
}

function positiveInt(value: unknown, key: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < min) bad(key, `must be a whole number >= ${min}`)
  return value as number
}

/** `wan:` of a site or the top level: schedule keys plus maxWanClients. */
export function parseWanPolicy(value: unknown, key: string, timeZone: string): WanPolicy {
  if (value === undefined) return { schedule: { timeZone, defaultRate: undefined, windows: [] }, maxWanClients: undefined }
  const m = mapping(value, key, ['timezone', 'default', 'windows', 'maxWanClients'])
  const { maxWanClients, ...spec } = m
  try {
    return {
      schedule: parseSchedule(spec, key, timeZone),
      maxWanClients: maxWanClients === undefined ? undefined : positiveInt(maxWanClients, `${key}.maxWanClients`, 1, 0),
    }
  } catch (err) {
    if (isBadWindow(err)) bad(key, `is invalid: ${(err as Error).message}`)
    throw err
  }
}

/** A rate, window or time zone the bandwidth module could not read: the config names the key it came from. */
function isBadWindow(err: unknown): boolean {
  return [BandwidthErrorCodes.BAD_RATE, BandwidthErrorCodes.BAD_SCHEDULE, BandwidthErrorCodes.BAD_TIMEZONE].some((code) => isPeerstageError(err, code))
}

/** A site's `link:`: a schedule (timezone, default, windows) in the site's time zone. */
function parseLink(value: unknown, key: string, timeZone: string): Schedule {
  mapping(value, key, ['timezone', 'default', 'windows'])
  try {
    return parseSchedule(value, key, timeZone)
  } catch (err) {
    if (isBadWindow(err)) bad(key, `is invalid: ${(err as Error).message}`)
    throw err
  }
}

const GLOB_RULE = 'must be NAME@VERSION globs like win11@* (* any run of characters, ? one)'

/** A site's `replicate:` globs; absent: everything. */
function replicateGlobs(value: unknown, key: string): string[] {
  if (value === undefined) return ['*']
  if (!Array.isArray(value)) bad(key, `${GLOB_RULE}, as a list`)
  return value.map((g, j) => {
    if (typeof g !== 'string' || g === '') bad(`${key}[${j}]`, `${GLOB_RULE}, not ${JSON.stringify(g) ?? String(g)}`)
    if (g !== '*' && !g.includes('@')) bad(`${key}[${j}]`, `'${g}' ${GLOB_RULE}`)
    return g
  })
}

/** Parents must be sites of the config (declared in any order) and form no cycle. */
function checkParents(sites: readonly SiteConfig[]): void {
  const byName = new Map(sites.map((s) => [s.name, s]))
  for (const [i, s] of sites.entries()) {
    if (s.parent === undefined) continue
    if (s.parent === s.name) bad(`sites[${i}].parent`, `'${s.parent}' is the site itself: a parent is the site its DPs replicate from`)
    if (!byName.has(s.parent)) bad(`sites[${i}].parent`, `'${s.parent}' is not a site of this config (sites: ${sites.map((o) => o.name).join(', ')})`)
  }
  for (const [i, s] of sites.entries()) {
    const path = [s.name]
    for (let p = s.parent; p !== undefined; p = byName.get(p)!.parent) {
      path.push(p)
      if (p === s.name) bad(`sites[${i}].parent`, `makes a cycle: ${path.join(' → ')}`)
      if (path.length > sites.length + 1) break // a cycle further up: reported at a site inside it
    }
  }
}

/** `trust:` key files → publisher strings, each error naming the entry and the file. */
function trustedPublishers(value: unknown, baseDir: string): string[] {
  const out = new Set<string>()
  for (const [i, p] of list(value, 'trust').entries()) {
    if (typeof p !== 'string' || p === '') bad(`trust[${i}]`, 'must be the path of a publisher public key file (publisher.pub)')
    const path = resolve(baseDir, p)
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      bad(`trust[${i}]`, `'${p}' cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    // A private key would work (its public half is derived) but does not belong on a tracker.
    if (text.includes('PRIVATE KEY')) bad(`trust[${i}]`, `'${p}' is a private key: give the tracker the publisher's public key (publisher.pub) only`)
    try {
      out.add(publisherOf(loadPublicKey(path)))
    } catch {
      bad(`trust[${i}]`, `'${p}' is not an Ed25519 public key (PEM or ed25519:<base64>; peerstage keygen writes one)`)
    }
  }
  return [...out]
}

/** `rateLimit: { perAddressPerSecond, burst }`; `perAddressPerSecond: 0` turns the limit off. */
function parseRateLimit(value: unknown): RateLimitConfig {
  if (value === undefined) return { ...RATE_LIMIT_DEFAULTS }
  const m = mapping(value, 'rateLimit', ['perAddressPerSecond', 'burst'])
  const rate = m.perAddressPerSecond ?? RATE_LIMIT_DEFAULTS.perAddressPerSecond
  // A fraction is a rule too: 0.5 is one request every 2 s.
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) bad('rateLimit.perAddressPerSecond', 'must be a number >= 0 (0: no limit)')
  return { perAddressPerSecond: rate, burst: positiveInt(m.burst, 'rateLimit.burst', Math.max(RATE_LIMIT_DEFAULTS.burst, Math.ceil(rate))) }
}

/** Validates a parsed config; every error names the key and the rule it breaks. */
export function createTrackerConfig(input: unknown, options: TrackerConfigOptions = {}): TrackerConfig {
  const top = mapping(input ?? {}, '', TOP_KEYS)
  const listen = top.listen === undefined ? '127.0.0.1:7070' : top.listen
  if (typeof listen !== 'string' || !/^[^\s]+:\d{1,5}$/.test(listen)) bad('listen', 'must be HOST:PORT')
  const interval = positiveInt(top.announceIntervalSeconds, 'announceIntervalSeconds', 30)
  const store = top.store === undefined ? undefined : storeUrl(top.store, 'store')
  const sites: SiteConfig[] = []
  const seenSubnets = new Map<string, string>()
  for (const [i, raw] of list(top.sites, 'sites').entries()) {
    const key = `sites[${i}]`
    const s = mapping(raw, key, SITE_KEYS)
    if (typeof s.name !== 'string' || !NAME.test(s.name)) bad(`${key}.name`, 'must be a name of letters, digits, . _ - (up to 64)')
    if (sites.some((o) => o.name === s.name)) bad(`${key}.name`, `'${s.name}' is used by two sites`)
    if (s.timezone !== undefined && typeof s.timezone !== 'string') bad(`${key}.timezone`, 'must be an IANA time zone name')
    let timeZone: string
    try {
      timeZone = checkTimeZone((s.timezone as string | undefined) ?? 'UTC', `${key}.timezone`)
    } catch (err) {
      bad(`${key}.timezone`, `'${String(s.timezone)}' is not an IANA time zone`)
    }
    const subnets = list(s.subnets, `${key}.subnets`).map((c, j) => {
      const cidr = typeof c === 'string' ? parseCidr(c) : undefined
      if (cidr === undefined) bad(`${key}.subnets[${j}]`, `'${String(c)}' is not an IPv4 CIDR like 10.1.2.0/24`)
      const other = seenSubnets.get(cidr.text)
      if (other !== undefined) bad(`${key}.subnets[${j}]`, `${cidr.text} is already a subnet of site ${other}`)
      seenSubnets.set(cidr.text, s.name as string)
      return cidr
    })
    if (s.parent !== undefined && (typeof s.parent !== 'string' || s.parent === '')) bad(`${key}.parent`, 'must be the name of another site')
    if (s.link !== undefined && s.parent === undefined) bad(`${key}.link`, 'needs a parent: it is the link from the parent site')
    const parent = s.parent as string | undefined
    const link = parent === undefined ? undefined : s.link === undefined ? { timeZone, defaultRate: undefined, windows: [] } : parseLink(s.link, `${key}.link`, timeZone)
    sites.push({ name: s.name, timeZone, subnets, wan: parseWanPolicy(s.wan, `${key}.wan`, timeZone), parent, link, replicate: replicateGlobs(s.replicate, `${key}.replicate`) })
  }
  checkParents(sites)
  const dps = list(top.dps, 'dps').map((raw, i): DpConfig => {
    const d = mapping(raw, `dps[${i}]`, DP_KEYS)
    if (typeof d.peerId !== 'string' || d.peerId.length === 0) bad(`dps[${i}].peerId`, 'must be the DP\'s libp2p peer id (peerstage dp prints it)')
    const serves = list(d.serves, `dps[${i}].serves`).map((n, j) => {
      if (!sites.some((s) => s.name === n)) bad(`dps[${i}].serves[${j}]`, `'${String(n)}' is not a site of this config`)
      return n as string
    })
    return { peerId: d.peerId, serves }
  })
  const baseDir = options.baseDir ?? process.cwd()
  return {
    listen,
    store,
    tls: tlsFilesOf(top.tls, baseDir),
    adminToken: tokenOf(top, 'adminToken', baseDir, true)!,
    dpToken: tokenOf(top, 'dpToken', baseDir, true)!,
    clientToken: tokenOf(top, 'clientToken', baseDir, false),
    viewerToken: viewerToken(top, baseDir),
    announceIntervalSeconds: interval,
    registrationSeconds: positiveInt(top.registrationSeconds, 'registrationSeconds', 3 * interval),
    leaseSeconds: positiveInt(top.leaseSeconds, 'leaseSeconds', 3 * interval),
    maxPeers: positiveInt(top.maxPeers, 'maxPeers', 30),
    wan: parseWanPolicy(top.wan, 'wan', 'UTC'),
    sites,
    dps,
    trusted: trustedPublishers(top.trust, baseDir),
    rateLimit: parseRateLimit(top.rateLimit),
  }
}

/** A shared store's URL: Redis (Valkey speaks the same), `redis://HOST:PORT/DB` or `rediss://` for TLS. */
export function storeUrl(value: unknown, key: string): string {
  if (parseRedisUrl(value) === undefined) bad(key, `must be a Redis URL like redis://127.0.0.1:6379/0, got '${String(value)}'`)
  return value as string
}

/** Reads and validates a YAML config file. */
export function readTrackerConfig(path: string): TrackerConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw trackerError(TrackerErrorCodes.BAD_CONFIG, `cannot read the tracker config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  let value: unknown
  try {
    value = parseYaml(text)
  } catch (err) {
    throw trackerError(TrackerErrorCodes.BAD_CONFIG, `${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err })
  }
  try {
    return createTrackerConfig(value, { baseDir: dirname(resolve(path)) })
  } catch (err) {
    if (isPeerstageError(err)) err.message = `${path}: ${err.message}`
    throw err
  }
}
