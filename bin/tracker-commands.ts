import { dirname, join, resolve } from 'node:path'
import { formatRate } from '../bandwidth/index.ts'
import { createLogger, formatBytes } from '../common/index.ts'
import { createTrackerServer, LevelTrackerStore, readTrackerConfig, Tracker, TrackerClient, type PackageStatus, type Scope, type StateCounts } from '../tracker/index.ts'
import { optionalString, requireString, stringList, usageError, type Command, type CommandContext } from './cli.ts'
import { untilSignal } from './signals.ts'

/** A client for `--tracker URL` (and `--token`), with a usage error for a bad URL. */
export function trackerClient(ctx: CommandContext, token?: string, localAddress?: string): TrackerClient {
  try {
    return new TrackerClient({ url: requireString(ctx, 'tracker'), ...(token !== undefined && { token }), ...(localAddress !== undefined && { localAddress }) })
  } catch (err) {
    if (err instanceof TypeError) throw usageError(err.message)
    throw err
  }
}

/** `2 succeeded, 1 downloading`: clients of a deployment per state. */
export function countsText(counts: StateCounts): string {
  const parts = Object.entries(counts).map(([state, n]) => `${n} ${state}`)
  return parts.length === 0 ? 'no reports yet' : parts.join(', ')
}

export const tracker: Command = {
  name: 'tracker',
  summary: 'run the tracker: locality peers, WAN leases, per-subnet budgets',
  help: `Usage: peerstage tracker --config FILE [--listen HOST:PORT] [--data DIR] [--json]

Serves the tracker's HTTP/JSON API (announce, budgets, status, throttle admin, deployments,
the package catalogue, manifests, /metrics) until SIGINT or SIGTERM. Sites, subnets, WAN
windows, lease limits, each site's parent, link windows and replicate globs, DPs, tokens
and the trusted publisher keys come from the YAML config (see README, "Tracker config");
an invalid config is refused with one message naming the key. State (registrations,
leases, overrides, WAN byte totals, deployments and their clients' reports, the catalogue)
lives in a LevelDB directory, so a restarted tracker resumes where it stopped.

  --config FILE       the YAML config
  --listen HOST:PORT  overrides the config's listen (default 127.0.0.1:7070)
  --data DIR          state directory (default: tracker-data beside the config file)

Exit codes: 0 stopped by a signal; 2 usage, invalid config, the address is in use, or the
--data directory cannot be used (held by another tracker, damaged, read-only, a file).`,
  options: { config: { type: 'string' }, listen: { type: 'string' }, data: { type: 'string' } },
  positionals: 0,
  async run(ctx) {
    const configPath = resolve(requireString(ctx, 'config'))
    const config = readTrackerConfig(configPath)
    const listen = optionalString(ctx, 'listen') ?? config.listen
    const cut = listen.lastIndexOf(':')
    const host = listen.slice(0, cut)
    const port = Number(listen.slice(cut + 1))
    if (cut < 1 || !Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--listen takes HOST:PORT, got '${listen}'`)
    const dataDir = resolve(optionalString(ctx, 'data') ?? join(dirname(configPath), 'tracker-data'))
    const logger = createLogger({ module: 'tracker', level: process.env.PEERSTAGE_LOG_LEVEL ?? 'warn' })
    const store = await LevelTrackerStore.open(dataDir)
    const t = await Tracker.start(config, { store, logger })
    const app = createTrackerServer(t, { logger })
    try {
      try {
        await app.listen({ host, port })
      } catch (err) {
        throw usageError(`cannot listen on ${listen}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      }
      const address = app.server.address()
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address !== null ? address.port : port}`
      if (ctx.json) process.stdout.write(`${JSON.stringify({ url, data: dataDir, sites: config.sites.map((s) => s.name) })}\n`)
      else ctx.print(`tracker listening on ${url} (state in ${dataDir}; ${config.sites.length} site${config.sites.length === 1 ? '' : 's'})`)
      await untilSignal()
      return 0
    } finally {
      await app.close()
      await t.stop()
      await store.close()
    }
  },
}

function scopeOption(ctx: CommandContext): Scope {
  const site = optionalString(ctx, 'site')
  const subnet = optionalString(ctx, 'subnet')
  if ((site === undefined) === (subnet === undefined)) throw usageError('give exactly one of --site NAME or --subnet CIDR')
  return site !== undefined ? { site } : { subnet: subnet! }
}

function rateText(rate: number | null): string {
  return rate === null ? 'unlimited' : formatRate(rate)
}

function printScope(ctx: CommandContext, r: Record<string, any>): void {
  const name = r.site !== undefined ? `site ${r.site}` : `subnet ${r.subnet}`
  const e = r.effective
  ctx.print(`${name} (${e.timezone})`)
  ctx.print(`  windows:         ${e.windows.length === 0 ? 'none' : e.windows.join('; ')}`)
  ctx.print(`  default:         ${e.default === null ? 'inherited' : rateText(e.default)}`)
  ctx.print(`  max WAN clients: ${e.maxWanClients ?? 'inherited'}`)
  ctx.print(`  override:        ${r.override === null ? 'none (config as written)' : JSON.stringify(r.override)}`)
  if (r.budgetNow !== undefined) ctx.print(`  budget now:      ${rateText(r.budgetNow.rateBytesPerSec)} (${r.budgetNow.rule}, by ${r.budgetNow.decidedBy})${r.budgetNow.nextChangeAt ? `, changes at ${r.budgetNow.nextChangeAt}` : ''}`)
}

export const throttle: Command = {
  name: 'throttle',
  summary: 'show or change a site\'s or subnet\'s WAN windows on the tracker',
  help: `Usage: peerstage throttle show|set|clear --tracker URL --token T (--site NAME | --subnet CIDR)
                        [--window "Mon-Fri 08:00-18:00 2Mbit/s"]... [--default RATE]
                        [--max-wan-clients N] [--timezone ZONE] [--json]

show   the scope's windows, default and lease limit as in force, and its budget now
set    replaces the given fields (all --window options together replace the windows);
       takes effect at once: DPs enforce the new budget within a second or two
clear  drops every change made with set: back to the config file

  --token T             the tracker's adminToken
  --window RULE         days from-to rate, in the scope's time zone; repeat for several
  --default RATE        rate outside every window: unlimited, 0 (closed), 2Mbit/s, 50MiB/s
  --max-wan-clients N   WAN leases at once per subnet and package

Exit codes: 0 done; 1 tracker unreachable; 2 usage, bad token, unknown site or subnet, invalid rule.`,
  options: { tracker: { type: 'string' }, token: { type: 'string' }, site: { type: 'string' }, subnet: { type: 'string' }, window: { type: 'string', multiple: true }, default: { type: 'string' }, 'max-wan-clients': { type: 'string' }, timezone: { type: 'string' } },
  positionals: 1,
  async run(ctx) {
    const action = ctx.positionals[0]
    if (action !== 'show' && action !== 'set' && action !== 'clear') throw usageError(`unknown action '${action}': use show, set or clear`)
    const client = trackerClient(ctx, requireString(ctx, 'token'))
    const scope = scopeOption(ctx)
    try {
      let result: Record<string, any>
      if (action === 'set') {
        const windows = stringList(ctx, 'window')
        const max = optionalString(ctx, 'max-wan-clients')
        if (max !== undefined && !/^\d+$/.test(max)) throw usageError('--max-wan-clients takes a whole number')
        const rate = optionalString(ctx, 'default')
        const timezone = optionalString(ctx, 'timezone')
        const spec = {
          ...(windows.length > 0 && { windows }),
          ...(rate !== undefined && { default: rate }),
          ...(max !== undefined && { maxWanClients: Number(max) }),
          ...(timezone !== undefined && { timezone }),
        }
        if (Object.keys(spec).length === 0) throw usageError('set needs at least one of --window, --default, --max-wan-clients, --timezone')
        result = await client.setThrottle(scope, spec)
      } else if (action === 'clear') result = await client.clearThrottle(scope)
      else result = await client.showThrottle(scope)
      if (ctx.json) ctx.printJson(result)
      else printScope(ctx, result)
      return 0
    } finally {
      client.close()
    }
  },
}

/** `…Xb3kQ9aZ`: the end of a peer id, the part that tells libp2p ids apart. */
export function shortPeerId(id: string): string {
  return id.length <= 12 ? id : `…${id.slice(-8)}`
}

/** Rows padded to their columns, two spaces apart; the last column is not padded. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
}

function packageLines(s: PackageStatus): string[] {
  const rows: string[][] = [['PACKAGE', 'SITE', 'DP', 'STATE', 'BYTES', 'LAST COPIED']]
  for (const p of s.packages) {
    const name = `${p.name === '' ? `${p.id.slice(0, 12)}…` : `${p.name}@${p.version}`}${p.listed ? '' : ' (not listed)'}`
    if (p.sites.length === 0) rows.push([name, '-', 'no site replicates it'])
    for (const site of p.sites) {
      if (site.dps.length === 0) rows.push([name, site.site, 'no DP registered'])
      for (const d of site.dps) {
        const state = d.state === 'failed' && d.reason !== null ? `failed: ${d.reason}` : d.state
        rows.push([name, site.site, shortPeerId(d.peerId), state, `${formatBytes(d.presentBytes)}/${formatBytes(d.totalBytes)}`, d.copiedAt ?? 'never'])
      }
    }
  }
  return rows.length === 1 ? ['no packages: peerstage package add MANIFEST lists one for the DPs'] : table(rows)
}

export const status: Command = {
  name: 'status',
  summary: 'per site and subnet: nodes, WAN leases, budgets, bytes over the WAN, deployments; or (--packages) every DP\'s replicas',
  help: `Usage: peerstage status --tracker URL [--packages] [--json]

Shows, for every site and subnet the tracker knows: registered clients and DPs, the WAN
leases held, the budget in force now (and which rule set it), a site's link from its parent
now, and per package the bytes its clients received over the LAN and the WAN and reused
locally, and what DPs sent it; and per deployment its clients there reported on, how many
are in each state.

  --packages  instead: per catalogue package, per site that must hold it (its replicate
              globs, or a site below it, match) and per DP there: its state (replicating,
              verifying, seeding, failed, or missing), bytes present of all, when it was
              last copied whole; a site without DP says so. --json: the PackageStatus.

Exit codes: 0 shown; 1 tracker unreachable; 2 usage.`,
  options: { tracker: { type: 'string' }, packages: { type: 'boolean' } },
  positionals: 0,
  async run(ctx) {
    const client = trackerClient(ctx)
    try {
      if (ctx.values.packages === true) {
        const p = await client.packageStatus()
        if (ctx.json) ctx.printJson(p)
        else for (const line of packageLines(p)) ctx.print(line)
        return 0
      }
      const s = await client.status()
      if (ctx.json) {
        ctx.printJson(s)
        return 0
      }
      const subnetLines = (n: Record<string, any>): void => {
        ctx.print(`  ${n.subnet}: ${n.nodes.clients} client(s), ${n.nodes.dps} DP(s); budget ${rateText(n.budget.rateBytesPerSec)} (${n.budget.rule}); leases ${n.leases.length}/${n.maxWanClients} per package`)
        for (const p of n.packages) ctx.print(`    ${p.packageId.slice(0, 12)}…  WAN ${formatBytes(p.wanBytes)}  LAN ${formatBytes(p.lanBytes)}  reused ${formatBytes(p.reusedBytes)}  sent by DPs ${formatBytes(p.dpUploadBytes)}`)
        for (const d of n.deployments ?? []) ctx.print(`    deployment ${d.id} ${d.name}@${d.version}: ${countsText(d.counts)}`)
      }
      ctx.print(`tracker ${client.url.origin} at ${s.time}`)
      for (const site of s.sites) {
        ctx.print(`site ${site.name} (${site.timezone})`)
        if (site.link) ctx.print(`  link from ${site.parent}: ${rateText(site.link.rateBytesPerSec)} (${site.link.rule})${site.link.nextChangeAt ? `, changes at ${site.link.nextChangeAt}` : ''}`)
        for (const n of site.subnets) subnetLines(n)
      }
      if (s.unassigned.length > 0) {
        ctx.print('not in any configured site')
        for (const n of s.unassigned) subnetLines(n)
      }
      return 0
    } finally {
      client.close()
    }
  },
}

export const trackerCommands = [tracker, throttle, status]
