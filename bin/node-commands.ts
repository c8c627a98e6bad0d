import { join, resolve } from 'node:path'
import { parseRate } from '../bandwidth/index.ts'
import { readManifest } from '../chunker/index.ts'
import { publishersToTrust, TRUST_HELP, trustedKeys, warnPublisherUnchecked } from './chunker-commands.ts'
import { createLogger, createProgress, formatBytes, PeerstageError, writeLine } from '../common/index.ts'
import { TrackerErrorCodes } from '../tracker/client-index.ts'
import {
  connectAll, createClient, createDp, createFetcher, FETCH_STALL_SECONDS, generateSwarmKeyFile, loadSwarmKey, REPAIR_ROUNDS, StallWatch, verifyWithRepair,
  type NodeComponents, type NodeInit,
} from '../node/index.ts'
import { optionalString, requireString, stringList, usageError, type Command, type CommandContext } from './cli.ts'
import { NODE_FLAG_DOCS } from './node-flags.ts'
import { untilSignal } from './signals.ts'
import { shortPeerId } from './tracker-cli.ts'
import { FETCH_RETRY_SECONDS, FETCH_TRACKER_TIMEOUT_SECONDS, SERVICE_RETRY_SECONDS, untilTrackerAnswers } from './tracker-wait.ts'
import { CLIENT_TOKEN, DP_TOKEN, tokenOption, trackerAccessOptions, trackerCaOption } from './tracker-access.ts'

export const swarmKey: Command = {
  name: 'swarm-key',
  help: `Usage: peerstage swarm-key --out FILE [--json]

Writes a new private-network key (libp2p pnet format, mode 0600) to FILE. Give the same
file to every DP and client of the organisation: a node without it cannot connect to any
of them. Never overwrites an existing file.

Exit codes: 0 written; 2 usage, or FILE exists.`,
  options: { out: { type: 'string' } },
  positionals: 0,
  async run(ctx) {
    const out = requireString(ctx, 'out')
    generateSwarmKeyFile(out)
    if (ctx.json) ctx.printJson({ swarmKey: out })
    else ctx.print(`swarm key: ${out} (copy it to every node of the swarm; keep it secret)`)
    return 0
  },
}

/** `--NAME SECONDS`, or `fallback` when not given; a usage error unless a number `>= 0` (or `> 0`). */
function secondsOption(ctx: CommandContext, name: string, fallback: number, rule: '>= 0' | '> 0'): number {
  const v = ctx.values[name] === undefined ? fallback : Number(ctx.values[name])
  if (!(rule === '> 0' ? v > 0 : v >= 0)) throw usageError(`--${name} takes a number of seconds ${rule}`)
  return v
}

function rateOption(ctx: CommandContext, name: string): number | undefined {
  const v = ctx.values[name]
  if (typeof v !== 'string') return undefined
  try {
    return parseRate(v, `--${name}`)
  } catch (err) {
    throw usageError((err as Error).message)
  }
}

/** Options both node commands take. */
const NODE_OPTIONS = {
  'swarm-key': { type: 'string' },
  listen: { type: 'string', multiple: true },
  'dial-from': { type: 'string' },
  trust: { type: 'string', multiple: true },
  'metrics-listen': { type: 'string' },
  'bulk-port': { type: 'string' },
  tracker: { type: 'string', multiple: true },
  name: { type: 'string' },
} as const

/** The help line of --name, the same for every node command. */
const NAME_HELP = `--name NAME           what status and deploy show call this node, beside its peer id and
                        address (default the host name)`

/** The help line of --bulk-port, the same for every node command. */
const BULK_PORT_HELP = `--bulk-port PORT|off  TCP port of the bulk TLS channel the wire's bytes take beside libp2p,
                        on the --listen IP (default any free port: open it, or fix one, where
                        a firewall sits between peers); off: every wire on libp2p`

/** A shared help entry as dp's help lays it out: its descriptions start one column further right. */
const oneColumnRight = (entry: string): string => entry.replace('  ', '   ').replace(/\n {24}/g, `\n${' '.repeat(25)}`)

function bulkOption(ctx: CommandContext): Pick<NodeInit, 'bulk' | 'bulkPort'> {
  const value = optionalString(ctx, 'bulk-port')
  if (value === undefined) return {}
  if (value === 'off') return { bulk: false }
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--bulk-port takes a TCP port (0-65535) or 'off', got '${value}'`)
  return { bulkPort: port }
}

/** The flags every node command shares, as a role's init; `token` for --tracker. */
function nodeInit(ctx: CommandContext, dataDir: string, token: string | undefined): NodeInit {
  const listen = stringList(ctx, 'listen')
  const dialFrom = optionalString(ctx, 'dial-from')
  const metricsListen = optionalString(ctx, 'metrics-listen')
  if (metricsListen !== undefined && !/^.+:\d+$/.test(metricsListen)) throw usageError(`--metrics-listen takes HOST:PORT, got '${metricsListen}'`)
  const trackers = stringList(ctx, 'tracker')
  for (const t of trackers) if (!URL.canParse(t)) throw usageError(`tracker URL '${t}' is not a URL like http://10.0.0.5:7070`)
  const ca = trackerCa(ctx)
  const name = optionalString(ctx, 'name')
  return {
    dataDir, swarmKey: loadSwarmKey(requireString(ctx, 'swarm-key')), ...(name !== undefined && { name }),
    ...(listen.length > 0 && { listen }), ...(dialFrom !== undefined && { dialFrom }), ...(metricsListen !== undefined && { metricsListen }),
    ...(trackers.length > 0 && { tracker: { url: trackers, ...(token !== undefined && { token }), ...ca } }),
    ...bulkOption(ctx),
  }
}

function trackerCa(ctx: CommandContext): { ca?: Buffer } {
  if (stringList(ctx, 'tracker').length === 0 && ctx.values['tracker-ca'] !== undefined) throw usageError('--tracker-ca is for an https:// --tracker: give --tracker URL too, or drop it')
  const ca = trackerCaOption(ctx)
  return ca === undefined ? {} : { ca }
}

/**
 * Logs on stderr, at PEERSTAGE_LOG_LEVEL. A service (dp, client) defaults to warn: its stderr
 * stays quiet but keeps the audit lines. `fetch` defaults to error: it is a command a person
 * runs, and its failure is its own one line, not a log line before it saying the same.
 * JSON lines with --json (or off a terminal), else one readable line each.
 */
const componentsAt = (ctx: CommandContext, level: string): NodeComponents => ({
  logger: (module) => createLogger({ module, level: process.env.PEERSTAGE_LOG_LEVEL ?? level, ...(ctx.json && { format: 'json' as const }) }),
})

/**
 * Which node a line comes from, when several print into one terminal (a walk-through's
 * clients started with `&`): `127.0.1.2 …Xb3kQ9aZ`, the address it dials from (or listens
 * on) and the end of its peer id.
 */
export function nodeLabel(node: { peerId: string, addresses: readonly string[] }, dialFrom: string | undefined): string {
  const host = dialFrom ?? /^\/ip[46]\/([^/]+)/.exec(node.addresses[0] ?? '')?.[1]
  return `${host === undefined ? '' : `${host} `}${shortPeerId(node.peerId)}`
}

/** A role's config errors (RangeError naming the key) are usage errors. */
async function built<T>(make: () => Promise<T>): Promise<T> {
  try {
    return await make()
  } catch (err) {
    if (err instanceof RangeError) throw usageError(err.message)
    throw err
  }
}

export const dp: Command = {
  name: 'dp',
  help: `Usage: peerstage dp --data DIR --swarm-key FILE [--listen MULTIADDR]...
                    [--publish MANIFEST --source DIR]... [--upload-limit RATE]
                    [--trust PUBFILE]... [--dial-from IP] [--metrics-listen HOST:PORT]
                    [--bulk-port PORT|off] [--tracker URL --dp-token T] [--tracker-ca FILE]
                    [--name NAME] [--config FILE] [--json]

Seeds each published package from its source files in place (no second copy), after
checking every chunk of them against the manifest. Prints its full listen multiaddrs
(/p2p/<peer id> included) for 'fetch --peer', then serves until SIGINT or SIGTERM.

With --tracker it also replicates: the tracker says which of its listed packages this
DP's site must hold (the site's 'replicate' globs, plus what sites below it need). Each
is pulled from the other DPs of its site and the DPs of its parent site, paced to the
link's windows, reusing every chunk of packages already here; it appears under
DIR/packages/ID/ (linked from NAME@VERSION) only once whole and verified, then seeded. A package
the tracker no longer lists is deleted. Killed and restarted with the same --data, it
resumes. A line is printed per replication state change ('peerstage status --packages'
shows every DP's).

  --data DIR             node identity and store
  --listen MULTIADDR     e.g. /ip4/0.0.0.0/tcp/7000 (default /ip4/127.0.0.1/tcp/0)
  --publish MANIFEST     a signed manifest; pair each with a --source DIR: the directory it was
                         packed from (for a package packed from one file, the file's directory)
  --upload-limit RATE    upload cap per remote /24 subnet, e.g. 2Mbit/s (default unlimited)
  --trust PUBFILE        accept only manifests signed by these publishers
  --metrics-listen H:P   serve Prometheus metrics at http://H:P/metrics
  ${oneColumnRight(BULK_PORT_HELP)}
  --tracker URL          announce to this tracker and enforce its per-subnet WAN budgets on
                         upload (followed within a second of any change); announces leave
                         from --dial-from, which is how the tracker places this DP. Repeat
                         for trackers of one estate: the next is tried when one does not answer
  --dp-token T           the tracker's dpToken; better --dp-token-file FILE, or PEERSTAGE_DP_TOKEN
                         in the environment: ps shows every process's --dp-token to every user
  --tracker-ca FILE      PEM CA (or self-signed) certificate of an https:// tracker, trusted
                         instead of Node's default CA store
  ${oneColumnRight(NAME_HELP)}
  --config FILE          these flags from a YAML file, keys in camelCase (swarmKey: swarm.key),
                         paths relative to the file; a flag given here wins (README, "Config files")
  --json                 one JSON line at start, then one per replication state change

A tracker not reachable at start (the service came up first) is tried again every 5 s,
said once on stderr; the DP seeds meanwhile.

Exit codes: 0 stopped by a signal; 1 a source does not match its manifest; 2 usage or bad
input, or the tracker refused the token.`,
  options: { ...NODE_OPTIONS, data: { type: 'string' }, publish: { type: 'string', multiple: true }, source: { type: 'string', multiple: true }, 'upload-limit': { type: 'string' }, ...trackerAccessOptions(DP_TOKEN) },
  positionals: 0,
  configFile: NODE_FLAG_DOCS,
  async run(ctx) {
    const dataDir = resolve(requireString(ctx, 'data'))
    const publish = stringList(ctx, 'publish')
    const sources = stringList(ctx, 'source')
    if (publish.length !== sources.length) throw usageError(`each --publish needs its --source (got ${publish.length} and ${sources.length})`)
    const trust = trustedKeys(ctx)
    const manifests = publish.map((m) => readManifest(m, trust === undefined ? {} : { trusted: trust }))
    const uploadLimit = rateOption(ctx, 'upload-limit')
    const dpToken = tokenOption(ctx, DP_TOKEN, stringList(ctx, 'tracker').length > 0)
    const dp = await built(() => createDp({
      ...nodeInit(ctx, dataDir, dpToken),
      publish: manifests.map((signed, i) => ({ signed, source: resolve(sources[i]!) })),
      ...(uploadLimit !== undefined && { uploadLimitBytesPerSec: uploadLimit }), ...(trust !== undefined && { trusted: trust }),
    }, componentsAt(ctx, 'warn')))
    try {
      dp.replicator?.on('state', (r) => {
        const pkg = `${r.name}@${r.version}`
        if (ctx.json) process.stdout.write(`${JSON.stringify({ package: pkg, packageId: r.packageId, state: r.state, ...(r.reason !== undefined && { reason: r.reason }), at: r.updatedAt })}\n`)
        else ctx.print(`${r.updatedAt}  dp ${nodeLabel(dp.node, optionalString(ctx, 'dial-from'))}  ${pkg}: ${r.state}${r.reason !== undefined ? ` — ${r.reason}` : ''}`)
      })
      dp.replicator?.on('removed', (r) => {
        if (ctx.json) process.stdout.write(`${JSON.stringify({ package: `${r.name}@${r.version}`, packageId: r.packageId, state: 'removed' })}\n`)
        else ctx.print(`${r.name}@${r.version}: no longer listed by the tracker, deleted`)
      })
      const packages = manifests.map((m) => ({ name: m.manifest.name, version: m.manifest.version, packageId: m.packageId }))
      const { node, metricsUrl } = dp
      const trackers = stringList(ctx, 'tracker')
      // A DP up before its tracker seeds meanwhile (to --peer fetches) and keeps trying, said once.
      const placed = trackers.length === 0 ? undefined : await untilTrackerAnswers(() => dp.start(), { command: 'dp', retrySeconds: SERVICE_RETRY_SECONDS })
      if (trackers.length > 0 && placed === undefined) return 0 // stopped by a signal before the tracker answered
      const tracker = placed && { subnet: placed.subnet, site: placed.site }
      if (ctx.json) process.stdout.write(`${JSON.stringify({ peerId: node.peerId, addresses: node.addresses, packages, ...(tracker && { tracker }), ...(metricsUrl && { metrics: metricsUrl }) })}\n`)
      else {
        ctx.print(`dp ${node.peerId} listening on:`)
        for (const a of node.addresses) ctx.print(`  ${a}`)
        for (const p of packages) ctx.print(`seeding ${p.name}@${p.version} (${p.packageId})`)
        if (tracker) ctx.print(`announced to ${stringList(ctx, 'tracker').join(' or ')} as subnet ${tracker.subnet}, site ${tracker.site ?? '(none)'}`)
      }
      await untilSignal()
      return 0
    } finally {
      await dp.stop()
    }
  },
}

export const fetch: Command = {
  name: 'fetch',
  help: `Usage: peerstage fetch MANIFEST --out DIR (--peer MULTIADDR... | --tracker URL) --swarm-key FILE
                       [--trust PUBFILE]... [--require-trust] [--listen MULTIADDR]... [--dial-from IP]
                       [--download-limit RATE] [--seed-for SECONDS] [--data DIR]
                       [--stall-timeout SECONDS] [--tracker-timeout SECONDS] [--client-token T]
                       [--metrics-listen HOST:PORT] [--bulk-port PORT|off] [--name NAME] [--config FILE] [--json]

Downloads the package from the given peers (each a multiaddr with /p2p/<id>, as
'peerstage dp' prints them) or from those a tracker hands out, verifying every chunk on
arrival and reusing chunks this node already holds from other packages. The files are
written under DATA/staging/<package id>/, re-read and verified there (pieces found bad are
fetched again, up to ${REPAIR_ROUNDS} times), and only then moved into DIR: a file in DIR is always
whole. Killed and restarted with the same --out, it resumes from the staged bytes; a staged
file changed meanwhile has its pieces hashed again, and the bad ones are fetched again.

${TRUST_HELP}
  --data DIR            node identity, store and staging (default DIR/.peerstage); share it
                        across fetches so a new version reuses the chunks of older ones
  --download-limit RATE pace requests, e.g. 20Mbit/s
  --seed-for SECONDS    keep serving the package to other peers this long after completing
  ${BULK_PORT_HELP}
  --stall-timeout SECONDS give up when no data has arrived for this long, naming why (a wrong
                        swarm key, refused connections, no peer handed out, no WAN lease);
                        default ${FETCH_STALL_SECONDS}
  --tracker URL         get peers from the tracker (same subnet first); pull from DPs across
                        the WAN only while it grants a WAN lease, at the lease's rate.
                        Announces leave from --dial-from: the tracker places us by it.
                        Repeat for trackers of one estate: the next is tried when one fails
  --tracker-timeout SECONDS  a tracker not answering at start (not up yet) is tried every
                        second, said once on stderr, for this long; default ${FETCH_TRACKER_TIMEOUT_SECONDS}
  --client-token T      the tracker's clientToken, if it has one; better --client-token-file FILE,
                        or PEERSTAGE_CLIENT_TOKEN in the environment (ps shows --client-token)
  --tracker-ca FILE     PEM CA (or self-signed) certificate of an https:// tracker
  ${NAME_HELP}
  --config FILE         these flags from a YAML file, keys in camelCase (seedFor: 30), paths
                        relative to the file; a flag given here wins (README, "Config files")

Exit codes: 0 complete and verified; 1 could not complete (no tracker answered within
--tracker-timeout, no peer reachable or nothing arrived for --stall-timeout, disk full,
files still bad after repair); 2 usage, or a manifest that is invalid or untrusted, or a
bad swarm key, or --require-trust without --trust.`,
  options: { ...NODE_OPTIONS, 'require-trust': { type: 'boolean' }, out: { type: 'string' }, peer: { type: 'string', multiple: true }, data: { type: 'string' }, 'download-limit': { type: 'string' }, 'seed-for': { type: 'string' }, 'stall-timeout': { type: 'string' }, 'tracker-timeout': { type: 'string' }, ...trackerAccessOptions(CLIENT_TOKEN) },
  positionals: 1,
  configFile: NODE_FLAG_DOCS,
  async run(ctx) {
    const out = resolve(requireString(ctx, 'out'))
    const peers = stringList(ctx, 'peer')
    if ((peers.length === 0) === (stringList(ctx, 'tracker').length === 0)) throw usageError('give --peer MULTIADDR (one or more) or --tracker URL')
    const seedFor = secondsOption(ctx, 'seed-for', 0, '>= 0')
    const stallSeconds = secondsOption(ctx, 'stall-timeout', FETCH_STALL_SECONDS, '> 0')
    const trackerTimeout = secondsOption(ctx, 'tracker-timeout', FETCH_TRACKER_TIMEOUT_SECONDS, '>= 0')
    const trust = publishersToTrust(ctx)
    const signed = readManifest(ctx.positionals[0]!, trust === undefined ? {} : { trusted: trust })
    const downloadLimit = rateOption(ctx, 'download-limit')
    const dataDir = resolve(typeof ctx.values.data === 'string' ? ctx.values.data : `${out}/.peerstage`)
    const clientToken = tokenOption(ctx, CLIENT_TOKEN)
    const fetcher = await built(() => createFetcher({
      ...nodeInit(ctx, dataDir, clientToken),
      ...(downloadLimit !== undefined && { downloadLimitBytesPerSec: downloadLimit }),
    }, componentsAt(ctx, 'error')))
    const { node, announcer } = fetcher
    const started = performance.now()
    try {
      // Reopening rechecks staged files changed since their last flush (a killed run, an edit).
      const stored = await node.store.getPackage(signed.packageId)
      // Delivered into this --out by an earlier run: checked and repaired there. Else staged until whole.
      const swarm = await node.want(signed, stored?.root === out ? out : join(dataDir, 'staging', signed.packageId))
      const pkg = swarm.pkg
      const total = pkg.manifest.pieces.reduce((n, p) => n + p.length, 0)
      const resumedBytes = pkg.presentBytes
      const reusedBytes = await node.reuseLocalChunks(pkg)
      let downloaded = 0
      swarm.on('download', (n) => { downloaded += n })
      const bar = ctx.json ? undefined : createProgress({ label: 'fetching', totalBytes: total, detail: () => `${swarm.peerCount} peer${swarm.peerCount === 1 ? '' : 's'}` })
      bar?.update(pkg.presentBytes)
      swarm.on('piece', () => bar?.update(pkg.presentBytes))
      const watch = new StallWatch(node, swarm, stallSeconds * 1000, announcer)

      const transferStarted = performance.now()
      let joined = false
      const untilComplete = async (): Promise<void> => {
        if (!joined) {
          joined = true
          if (announcer === undefined) for (const f of await connectAll(node, signed.packageId, peers)) writeLine(`peerstage fetch: ${f.message}`)
          else if (await untilTrackerAnswers(() => fetcher.start(), { command: 'fetch', retrySeconds: FETCH_RETRY_SECONDS, timeoutSeconds: trackerTimeout, timeoutOption: '--tracker-timeout' }) === undefined) {
            throw new PeerstageError(TrackerErrorCodes.UNREACHABLE, 'stopped by a signal while waiting for the tracker; run again to resume')
          }
        }
        await watch.untilComplete({ untilPeersGone: announcer === undefined })
      }
      // Announced even when complete already: a tracker counts us as a holder.
      if (announcer !== undefined || !pkg.complete) await untilComplete()
      const repairedPieces = await verifyWithRepair(swarm, untilComplete)
      bar?.done()
      const transferSeconds = (performance.now() - transferStarted) / 1000
      await pkg.moveTo(out, { filesOnly: true })
      const seconds = (performance.now() - started) / 1000
      const summary = { ok: true, packageId: signed.packageId, name: pkg.manifest.name, version: pkg.manifest.version, publisherChecked: trust !== undefined, out, bytes: total, downloadedBytes: downloaded, reusedBytes, resumedBytes, repairedPieces, transferSeconds, seconds }
      if (ctx.json) ctx.printJson(summary)
      else ctx.print(`fetched ${pkg.manifest.name}@${pkg.manifest.version} into ${out}: ${formatBytes(total)} verified (${formatBytes(downloaded)} downloaded, ${formatBytes(reusedBytes)} reused, ${formatBytes(resumedBytes)} already here${repairedPieces > 0 ? `, ${repairedPieces} bad piece${repairedPieces === 1 ? '' : 's'} fetched again` : ''}) in ${seconds.toFixed(1)} s`)
      if (trust === undefined) warnPublisherUnchecked('fetch')
      if (seedFor > 0) await untilSignal(seedFor)
      return 0
    } finally {
      await fetcher.stop()
    }
  },
}

const SIZE_UNITS: Record<string, number> = { '': 1, 'b': 1, 'kb': 1e3, 'kib': 1024, 'mb': 1e6, 'mib': 1024 ** 2, 'gb': 1e9, 'gib': 1024 ** 3, 'tb': 1e12, 'tib': 1024 ** 4 }

/** `50GiB`, `500MB`, `1048576` → bytes. */
function sizeOption(ctx: CommandContext, name: string): number | undefined {
  const v = optionalString(ctx, name)
  if (v === undefined) return undefined
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim())
  const unit = m === null ? undefined : SIZE_UNITS[m[2]!.toLowerCase()]
  if (m === null || unit === undefined) throw usageError(`--${name} takes a size like 50GiB or 500MB, got '${v}'`)
  return Math.floor(Number(m[1]) * unit)
}

export const client: Command = {
  name: 'client',
  help: `Usage: peerstage client --tracker URL --data DIR --swarm-key FILE --trust PUBFILE...
                        [--listen MULTIADDR]... [--dial-from IP] [--client-token T]
                        [--cache-max SIZE] [--metrics-listen HOST:PORT] [--bulk-port PORT|off]
                        [--name NAME] [--config FILE] [--json]

A long-running node. It announces to the tracker and learns the deployments that target
it. From each deployment's availableAt (plus a fixed per-client jitter) it pre-stages the
package: from LAN peers first, from DPs across the WAN only under a lease, reusing chunks
of packages it already holds. When complete it re-reads and verifies every chunk from disk
and materializes the package under DIR/packages/ID/ (the directory appears only when whole;
DIR/packages/NAME@VERSION links to it). At mandatoryAt it verifies again and runs the program once, in the package
directory, with PEERSTAGE_PACKAGE, PEERSTAGE_VERSION and PEERSTAGE_DEPLOYMENT set; its
output goes to DIR/logs/ID.log. Content that fails verification is fetched again and never
run. A client that comes online after mandatoryAt fetches and runs at once. It keeps
seeding what it holds to its site's peers, and reports each deployment's state to the
tracker ('peerstage deploy show ID'). SIGINT/SIGTERM stop it cleanly (a running program
gets 30 s to finish); restarted with the same --data it resumes, and never runs a program
twice for one deployment.

  --tracker URL         the tracker; repeat for trackers of one estate: the next is tried
                        when one does not answer (meanwhile no WAN, LAN peers only)
  --trust PUBFILE       accept only packages signed by these publishers (repeat for several)
  --cache-max SIZE      keep the packages under DIR at most this big (e.g. 50GiB), deleting
                        least recently used ones that no pending deployment needs
  --client-token T      the tracker's clientToken, if it has one; better --client-token-file FILE,
                        or PEERSTAGE_CLIENT_TOKEN in the environment (ps shows --client-token)
  --tracker-ca FILE     PEM CA (or self-signed) certificate of an https:// tracker
  --dial-from IP        local address announces and dials leave from: the tracker places
                        this client by it
  ${BULK_PORT_HELP}
  ${NAME_HELP}
  --config FILE         these flags from a YAML file, keys in camelCase (cacheMax: 50GiB),
                        paths relative to the file; a flag given here wins (README, "Config files")
  --json                one JSON line at start, then one per deployment state change

A tracker not reachable at start is tried again every 5 s (said once on stderr).

Exit codes: 0 stopped by a signal; 2 usage, bad token or key.`,
  options: { ...NODE_OPTIONS, data: { type: 'string' }, ...trackerAccessOptions(CLIENT_TOKEN), 'cache-max': { type: 'string' } },
  positionals: 0,
  configFile: NODE_FLAG_DOCS,
  async run(ctx) {
    const dataDir = resolve(requireString(ctx, 'data'))
    if (stringList(ctx, 'tracker').length === 0) throw usageError('--tracker is required')
    const trusted = trustedKeys(ctx)
    if (trusted === undefined) throw usageError('--trust PUBFILE is required: the client runs only packages of publishers it trusts')
    const cacheMaxBytes = sizeOption(ctx, 'cache-max')
    const clientToken = tokenOption(ctx, CLIENT_TOKEN)
    const client = await built(() => createClient({
      ...nodeInit(ctx, dataDir, clientToken),
      trusted, ...(cacheMaxBytes !== undefined && { cacheMaxBytes }),
    }, componentsAt(ctx, 'warn')))
    try {
      const { node, deployments } = client
      deployments.on('state', (r) => {
        const pkg = `${r.offer.name}@${r.offer.version}`
        if (ctx.json) process.stdout.write(`${JSON.stringify({ deployment: r.offer.id, package: pkg, state: r.state, ...(r.reason !== undefined && { reason: r.reason }), ...(r.exitCode !== undefined && { exitCode: r.exitCode }), at: r.updatedAt })}\n`)
        else ctx.print(`${r.updatedAt}  client ${nodeLabel(node, optionalString(ctx, 'dial-from'))}  ${r.offer.id} ${pkg}: ${r.state}${r.exitCode !== undefined && r.exitCode !== null ? ` (exit ${r.exitCode})` : ''}${r.reason !== undefined ? ` — ${r.reason}` : ''}`)
      })
      // A service may start before the network or its tracker: it keeps trying (said once) instead of exiting.
      const placed = await untilTrackerAnswers(() => client.start(), { command: 'client', retrySeconds: SERVICE_RETRY_SECONDS })
      if (placed === undefined) return 0 // stopped by a signal before the tracker answered
      const packages = node.allSwarms.map((s) => ({ name: s.pkg.manifest.name, version: s.pkg.manifest.version, packageId: s.pkg.packageId, complete: s.pkg.complete }))
      const known = deployments.list().map((r) => ({ id: r.offer.id, package: `${r.offer.name}@${r.offer.version}`, state: r.state }))
      if (ctx.json) process.stdout.write(`${JSON.stringify({ peerId: node.peerId, addresses: node.addresses, subnet: placed.subnet, site: placed.site, packages, deployments: known })}\n`)
      else {
        ctx.print(`client ${node.peerId} in subnet ${placed.subnet}, site ${placed.site ?? '(none)'}`)
        for (const p of packages) ctx.print(`  ${p.complete ? 'seeding' : 'fetching'} ${p.name}@${p.version}`)
        for (const d of known) ctx.print(`  deployment ${d.id} ${d.package}: ${d.state}`)
      }
      await untilSignal()
      return 0
    } finally {
      await client.stop()
    }
  },
}

export const nodeCommands = [swarmKey, dp, fetch, client]
