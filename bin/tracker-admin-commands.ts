import { formatRate } from '../bandwidth/index.ts'
import { formatBytes } from '../common/index.ts'
import { NO_RULE, type PackageStatus, type Scope } from '../tracker/client-index.ts'
import { optionalString, stringList, usageError, type Command, type CommandContext } from './cli.ts'
import { ADMIN_TOKEN, tokenOption, trackerAccessOptions } from './tracker-access.ts'
import { countsText, nodeRows, shortPeerId, table, trackerClient } from './tracker-cli.ts'

function scopeOption(ctx: CommandContext): Scope {
  const site = optionalString(ctx, 'site')
  const subnet = optionalString(ctx, 'subnet')
  if ((site === undefined) === (subnet === undefined)) throw usageError('give exactly one of --site NAME or --subnet CIDR')
  return site !== undefined ? { site } : { subnet: subnet! }
}

function rateText(rate: number | null): string {
  return rate === null ? 'unlimited' : formatRate(rate)
}

/**
 * Who set a rule (the tracker's `LEVEL override|config`), in words: "this site in the config
 * file", "throttle set on this subnet", "site leeds in the config file" (`site`: the site of
 * a subnet being shown), "the global wan in the config file".
 */
function fromText(from: string, site?: string): string {
  const [level, by] = from.split(' ') as [string, string]
  const where = level === 'global' ? 'the global wan' : level === 'site' && site !== undefined ? `site ${site}` : `this ${level}`
  return by === 'override' ? `throttle set on ${where}` : `${where} in the config file`
}

/**
 * A budget as a person says it: `2 MiB/s (the site's window Mon-Fri 08:00-18:00 2Mbit/s)`,
 * `4 MiB/s (the site's default)`, `unlimited (no rule)`.
 */
function budgetText(b: { rateBytesPerSec: number | null, rule: string, decidedBy: string }): string {
  const rate = rateText(b.rateBytesPerSec)
  if (b.rule === NO_RULE) return `${rate} (no rule)`
  const whose = b.decidedBy === 'global' ? 'the global' : `the ${b.decidedBy}'s`
  return b.rule === 'default' ? `${rate} (${whose} default)` : `${rate} (${whose} window ${b.rule})`
}

/** `throttle show`: each field in force at the scope, and where it comes from. */
function printScope(ctx: CommandContext, r: Record<string, any>): void {
  const name = r.site !== undefined ? `site ${r.site}` : `subnet ${r.subnet}`
  const e = r.effective
  const f = r.inForce
  const site: string | undefined = f.site
  ctx.print(`${name} (${e.timezone})`)
  const level = r.site !== undefined ? 'site' : 'subnet'
  const own = e.windows.length === 0 ? 'none of its own' : `${e.windows.join('; ')} (${fromText(`${level} ${f.windowsFrom}`)})`
  ctx.print(`  windows:         ${own}`)
  for (const w of f.widerWindows) ctx.print(`                   also ${w.rules.join('; ')} (${fromText(w.from, site)})`)
  const def = f.default.from === 'none' ? 'unlimited (no rule sets one)' : `${rateText(f.default.rateBytesPerSec)} (${fromText(f.default.from, site)})`
  ctx.print(`  default:         ${def}`)
  const max = f.maxWanClients.from === 'built-in' ? 'the built-in default: no rule sets it' : fromText(f.maxWanClients.from, site)
  ctx.print(`  max WAN clients: ${f.maxWanClients.value} (${max})`)
  ctx.print(`  override:        ${r.override === null ? 'none (config as written)' : JSON.stringify(r.override)}`)
  if (r.budgetNow !== undefined) ctx.print(`  budget now:      ${budgetText(r.budgetNow)}${r.budgetNow.nextChangeAt ? `, changes at ${r.budgetNow.nextChangeAt}` : ''}`)
}

export const throttle: Command = {
  name: 'throttle',
  help: `Usage: peerstage throttle show|set|clear --tracker URL --token T|--token-file FILE (--site NAME | --subnet CIDR)
                        [--window "Mon-Fri 08:00-18:00 2Mbit/s"]... [--default RATE]
                        [--max-wan-clients N] [--timezone ZONE] [--json]

show   the scope's windows, default and lease limit as in force, and its budget now
set    replaces the given fields (all --window options together replace the windows);
       takes effect at once: DPs enforce the new budget within a second or two
clear  drops every change made with set: back to the config file

  --token T             the tracker's adminToken (show: or its viewerToken); better
                        --token-file FILE, or PEERSTAGE_TOKEN in the environment: ps shows --token
  --tracker-ca FILE     PEM CA (or self-signed) certificate of an https:// tracker
  --window RULE         days from-to rate, in the scope's time zone; repeat for several
  --default RATE        rate outside every window: unlimited, 0 (closed), 2Mbit/s, 50MiB/s
  --max-wan-clients N   WAN leases at once per subnet and package

Exit codes: 0 done; 1 tracker unreachable; 2 usage, bad token, unknown site or subnet, invalid rule.`,
  options: { tracker: { type: 'string' }, ...trackerAccessOptions(ADMIN_TOKEN), site: { type: 'string' }, subnet: { type: 'string' }, window: { type: 'string', multiple: true }, default: { type: 'string' }, 'max-wan-clients': { type: 'string' }, timezone: { type: 'string' } },
  positionals: 1,
  async run(ctx) {
    const action = ctx.positionals[0]
    if (action !== 'show' && action !== 'set' && action !== 'clear') throw usageError(`unknown action '${action}': use show, set or clear`)
    const client = trackerClient(ctx, tokenOption(ctx, ADMIN_TOKEN, true))
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
  help: `Usage: peerstage status --tracker URL [--token T|--token-file FILE] [--tracker-ca FILE] [--packages] [--json]

Shows, for every site and subnet the tracker knows: registered clients and DPs, the WAN
leases held, the budget in force now (and which rule set it), a site's link from its parent
now, and per package the bytes its clients received over the LAN and the WAN and reused
locally, and what DPs sent it; and per deployment its clients there reported on, how many
are in each state.

  --token T   the viewerToken (or adminToken), needed when the tracker sets a viewerToken;
              or --token-file FILE, or PEERSTAGE_TOKEN in the environment
  --tracker-ca FILE  PEM CA (or self-signed) certificate of an https:// tracker
  --packages  instead: per catalogue package, per site that must hold it (its replicate
              globs, or a site below it, match) and per DP there: its state (replicating,
              verifying, seeding, failed, or missing), bytes present of all, when it was
              last copied whole; a site without DP says so. --json: the PackageStatus.

Exit codes: 0 shown; 1 tracker unreachable; 2 usage, missing or wrong token.`,
  options: { tracker: { type: 'string' }, ...trackerAccessOptions(ADMIN_TOKEN), packages: { type: 'boolean' } },
  positionals: 0,
  async run(ctx) {
    const client = trackerClient(ctx, tokenOption(ctx, ADMIN_TOKEN))
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
        ctx.print(`  ${n.subnet}: ${n.nodes.clients} client(s), ${n.nodes.dps} DP(s); budget ${budgetText(n.budget)}; leases ${n.leases.length}/${n.maxWanClients} per package`)
        // A tracker older than node names sends no nodeList.
        for (const line of table(nodeRows(n.nodeList ?? []))) ctx.print(`    ${line}`)
        if (n.nodesOmitted > 0) ctx.print(`    … and ${n.nodesOmitted} more (the dashboard's node list, GET /v1/nodes, has them all)`)
        for (const p of n.packages) ctx.print(`    ${p.name ? `${p.name}@${p.version}` : `${p.packageId.slice(0, 12)}…`}  WAN ${formatBytes(p.wanBytes)}  LAN ${formatBytes(p.lanBytes)}  reused ${formatBytes(p.reusedBytes)}  sent by DPs ${formatBytes(p.dpUploadBytes)}`)
        for (const d of n.deployments ?? []) ctx.print(`    deployment ${d.id} ${d.name}@${d.version}: ${countsText(d.counts)}`)
      }
      ctx.print(`tracker ${client.url.origin} at ${s.time}`)
      for (const site of s.sites) {
        ctx.print(`site ${site.name} (${site.timezone})`)
        if (site.link) ctx.print(`  link from ${site.parent}: ${budgetText({ ...site.link, decidedBy: 'link' })}${site.link.nextChangeAt ? `, changes at ${site.link.nextChangeAt}` : ''}`)
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

export const trackerAdminCommands = [throttle, status]
