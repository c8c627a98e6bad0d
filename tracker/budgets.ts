import { EventEmitter } from 'node:events'
import { nextChange, rateAt, UNLIMITED, type Clock, type Rate, type RateDecision, type Schedule, type WindowSpec } from '../bandwidth/index.ts'
import { parseWanPolicy, type SiteConfig, type TrackerConfig, type WanPolicy } from './config.ts'
import { NO_RULE, placeAddress, SubnetIndex, TrackerErrorCodes, trackerError, type Placement } from './protocol/index.ts'

/** What an operator may change on a site or a subnet; absent fields keep the config's. */
export interface OverrideSpec {
  timezone?: string
  default?: string
  /** Rule strings or their structured form, as in the config. */
  windows?: Array<string | WindowSpec>
  maxWanClients?: number
}

/** `site:NAME` or `subnet:CIDR`. */
export type ScopeKey = string

export interface BudgetNow {
  rate: Rate
  /** The window in force as written, or `default`, or `unlimited` when nothing is set. */
  rule: string
  /** `subnet`, `site` or `global`: whose rule decided. */
  decidedBy: 'subnet' | 'site' | 'global' | 'none'
  nextChangeAt: Date | undefined
}

/** An inter-site link now: what the parent site's DPs may send the site's DPs. */
export interface LinkNow {
  site: string
  parent: string
  rate: Rate
  /** The link window in force as written, or `default`, or `unlimited` when nothing is set. */
  rule: string
  nextChangeAt: Date | undefined
}

/**
 * What is in force at a scope besides its own windows, and who set it, in words scripts may
 * match: `subnet override`, `site override`, `site config`, `global config`; `none` for a
 * default no level sets (unlimited), `built-in` for a lease limit no level sets (1).
 */
export interface InForce {
  /** The site of a subnet scope (its rules apply below the subnet's own). */
  site: string | undefined
  default: { rate: Rate, from: string }
  maxWanClients: { value: number, from: string }
  /** Where the scope's own windows come from: `override`, `config`, or `none` (it has none). */
  windowsFrom: 'override' | 'config' | 'none'
  /** Windows of the wider levels, which apply here too: any window in force beats every default. */
  widerWindows: Array<{ from: string, rules: string[] }>
}

/** Longest wait between re-evaluations, so a wall clock set by hand is noticed. */
const RECHECK_MS = 60_000

/**
 * Every subnet's WAN budget right now: config merged with the operator's overrides, the
 * subnet's windows over its site's over the global ones; and every inter-site link's rate
 * (a site's `link:` from its parent). Emits `change` whenever any subnet's rate or lease
 * limit or any link's rate changes (at window edges, from a timer, and on overrides), or
 * the tracker says so (`bump`, when the set of DPs or the replication plan changes), and bumps `version` so DPs
 * long-polling for budgets wake at once.
 */
export class Budgets extends EventEmitter<{ change: [version: number] }> {
  readonly config: TrackerConfig
  private readonly sites = new Map<string, SiteConfig>()
  private readonly siteOfSubnet = new Map<string, string>()
  private readonly index: SubnetIndex<Placement>
  private readonly overrides = new Map<ScopeKey, OverrideSpec>()
  private readonly now: () => Date
  private readonly clock: Clock
  private cancelTimer: (() => void) | undefined
  /** Effective policy per scope: parsing overrides is not for the announce path. */
  private readonly policies = new Map<ScopeKey, WanPolicy>()
  /** Rate of each configured subnet, as of the last evaluation (at every edge and change). */
  private lastRates = new Map<string, Rate>()
  /** Sites with a parent → their link's schedule. */
  private readonly links = new Map<string, { parent: string, schedule: Schedule }>()
  /** Rate of each link, as of the last evaluation. */
  private lastLinks = new Map<string, Rate>()
  version = 1

  constructor(config: TrackerConfig, components: { now: () => Date, clock: Clock }) {
    super()
    this.config = config
    this.now = components.now
    this.clock = components.clock
    const entries: Array<[SiteConfig['subnets'][number], Placement]> = []
    for (const site of config.sites) {
      this.sites.set(site.name, site)
      if (site.parent !== undefined) this.links.set(site.name, { parent: site.parent, schedule: site.link ?? { timeZone: site.timeZone, defaultRate: undefined, windows: [] } })
      for (const c of site.subnets) {
        this.siteOfSubnet.set(c.text, site.name)
        entries.push([c, { subnet: c.text, site: site.name }])
      }
    }
    this.index = new SubnetIndex(entries)
  }

  /** Where a source address belongs: the protocol's placement rule over the configured subnets. */
  place(ip: string): Placement {
    return placeAddress(this.index, ip)
  }

  get configuredSubnets(): string[] {
    return [...this.siteOfSubnet.keys()]
  }

  siteOf(subnet: string): string | undefined {
    return this.siteOfSubnet.get(subnet)
  }

  /** Checks a scope exists; 404 otherwise. */
  checkScope(scope: ScopeKey): void {
    const [kind, name] = splitScope(scope)
    const known = kind === 'site' ? this.sites.has(name) : this.siteOfSubnet.has(name)
    if (!known) {
      const choices = kind === 'site' ? [...this.sites.keys()] : this.configuredSubnets
      throw trackerError(TrackerErrorCodes.NOT_FOUND, `no ${kind} '${name}' in the tracker's config (known: ${choices.join(', ') || 'none'})`)
    }
  }

  override(scope: ScopeKey): OverrideSpec | undefined {
    return this.overrides.get(scope)
  }

  /**
   * Validates and merges `spec` into the scope's override (given fields replace). Throws
   * PEERSTAGE_TRACKER_BAD_REQUEST naming the bad field and changes nothing on error.
   */
  /** The scope's override with `spec` merged in, validated; nothing changes until applyOverride. */
  mergedOverride(scope: ScopeKey, spec: OverrideSpec): OverrideSpec {
    this.checkScope(scope)
    const merged = { ...this.overrides.get(scope), ...spec }
    this.policyOf(scope, merged) // validation only
    return merged
  }

  /** Puts an override in force (undefined: the config's rules again), effective at once. */
  applyOverride(scope: ScopeKey, spec: OverrideSpec | undefined): void {
    this.checkScope(scope)
    if (spec === undefined) this.overrides.delete(scope)
    else this.overrides.set(scope, spec)
    this.policies.clear()
    this.reevaluate(true)
  }

  /** Scopes with an override in force. */
  overrideScopes(): ScopeKey[] {
    return [...this.overrides.keys()]
  }

  /** Restores overrides saved earlier (at start), without validation errors stopping start. */
  restoreOverride(scope: ScopeKey, spec: OverrideSpec): void {
    this.overrides.set(scope, spec)
    this.policies.clear()
  }

  /** The scope's effective policy: config fields, each replaced by the override's when set. */
  policyOf(scope: ScopeKey, override = this.overrides.get(scope)): WanPolicy {
    const [kind, name] = splitScope(scope)
    const site = kind === 'site' ? this.sites.get(name) : this.sites.get(this.siteOfSubnet.get(name) ?? '')
    const base: WanPolicy = kind === 'site' && site !== undefined
      ? site.wan
      : { schedule: { timeZone: site?.timeZone ?? 'UTC', defaultRate: undefined, windows: [] }, maxWanClients: undefined }
    if (override === undefined) return base
    try {
      const parsed = parseWanPolicy(override, `the ${kind} ${name}`, override.timezone ?? base.schedule.timeZone)
      return {
        schedule: {
          timeZone: parsed.schedule.timeZone,
          defaultRate: override.default !== undefined ? parsed.schedule.defaultRate : base.schedule.defaultRate,
          windows: override.windows !== undefined ? parsed.schedule.windows : base.schedule.windows,
        },
        maxWanClients: parsed.maxWanClients ?? base.maxWanClients,
      }
    } catch (err) {
      throw trackerError(TrackerErrorCodes.BAD_REQUEST, (err as Error).message, { cause: err })
    }
  }

  /** The scope's default and lease limit in force, the windows of wider levels, and who set each (InForce). */
  inForce(scope: ScopeKey): InForce {
    this.checkScope(scope)
    const [kind, name] = splitScope(scope)
    const site = kind === 'site' ? name : this.siteOfSubnet.get(name)
    const levels: Array<{ level: string, override: OverrideSpec | undefined, policy: WanPolicy }> = []
    if (kind === 'subnet') levels.push({ level: 'subnet', override: this.overrides.get(scope), policy: this.policyOf(scope) })
    if (site !== undefined) levels.push({ level: 'site', override: this.overrides.get(`site:${site}`), policy: this.policyOf(`site:${site}`) })
    levels.push({ level: 'global', override: undefined, policy: this.config.wan })
    const from = (l: typeof levels[number], field: 'default' | 'windows' | 'maxWanClients'): string => `${l.level} ${l.override?.[field] !== undefined ? 'override' : 'config'}`
    const withDefault = levels.find((l) => l.policy.schedule.defaultRate !== undefined)
    const withMax = levels.find((l) => l.policy.maxWanClients !== undefined)
    const own = levels[0]!
    return {
      site: kind === 'subnet' ? site : undefined,
      default: withDefault === undefined ? { rate: UNLIMITED, from: 'none' } : { rate: withDefault.policy.schedule.defaultRate!, from: from(withDefault, 'default') },
      maxWanClients: withMax === undefined ? { value: 1, from: 'built-in' } : { value: withMax.policy.maxWanClients!, from: from(withMax, 'maxWanClients') },
      windowsFrom: own.override?.windows !== undefined ? 'override' : own.policy.schedule.windows.length > 0 ? 'config' : 'none',
      widerWindows: levels.slice(1).filter((l) => l.policy.schedule.windows.length > 0)
        .map((l) => ({ from: from(l, 'windows'), rules: l.policy.schedule.windows.map((w) => w.text) })),
    }
  }

  private cachedPolicy(scope: ScopeKey): WanPolicy {
    let p = this.policies.get(scope)
    if (p === undefined) this.policies.set(scope, p = this.policyOf(scope))
    return p
  }

  /** Subnet, site, global: most specific first. */
  private scopesOf(subnet: string): Array<{ by: BudgetNow['decidedBy'], policy: WanPolicy }> {
    const site = this.siteOfSubnet.get(subnet)
    const out: Array<{ by: BudgetNow['decidedBy'], policy: WanPolicy }> = []
    if (site !== undefined) {
      if (this.overrides.has(`subnet:${subnet}`)) out.push({ by: 'subnet', policy: this.cachedPolicy(`subnet:${subnet}`) })
      out.push({ by: 'site', policy: this.cachedPolicy(`site:${site}`) })
    }
    out.push({ by: 'global', policy: this.config.wan })
    return out
  }

  budgetOf(subnet: string, at = this.now()): BudgetNow {
    const scopes = this.scopesOf(subnet)
    const schedules: Schedule[] = scopes.map((s) => s.policy.schedule)
    const d = rateAt(schedules, at)
    return {
      rate: d.rate,
      rule: ruleOf(d),
      decidedBy: d.scope === -1 ? 'none' : scopes[d.scope]!.by,
      nextChangeAt: nextChange(schedules, at),
    }
  }

  /** The rate now, cheaply: configured subnets from the last evaluation, others computed. */
  rateOf(subnet: string): Rate {
    return this.lastRates.get(subnet) ?? rateAt(this.scopesOf(subnet).map((s) => s.policy.schedule), this.now()).rate
  }

  maxWanClientsOf(subnet: string): number {
    for (const s of this.scopesOf(subnet)) if (s.policy.maxWanClients !== undefined) return s.policy.maxWanClients
    return 1
  }

  /** Sites with a parent, in config order. */
  get linkedSites(): string[] {
    return [...this.links.keys()]
  }

  /** The link from the site's parent now; undefined for a site without a parent. */
  linkOf(site: string, at = this.now()): LinkNow | undefined {
    const link = this.links.get(site)
    if (link === undefined) return undefined
    const d = rateAt([link.schedule], at)
    return { site, parent: link.parent, rate: d.rate, rule: ruleOf(d), nextChangeAt: nextChange([link.schedule], at) }
  }

  /** The link's rate now, cheaply (from the last evaluation); undefined for a site without a parent. */
  linkRateOf(site: string): Rate | undefined {
    const link = this.links.get(site)
    if (link === undefined) return undefined
    return this.lastLinks.get(site) ?? rateAt([link.schedule], this.now()).rate
  }

  /** A new version for a change outside the rates (the set of DPs, the replication plan): long-polling DPs wake. */
  bump(): void {
    this.version++
    this.emit('change', this.version)
  }

  /** Starts the timer that re-evaluates every subnet at its next window edge. */
  start(): void {
    this.reevaluate(false)
  }

  stop(): void {
    this.cancelTimer?.()
    this.cancelTimer = undefined
  }

  /** Rates of every configured subnet and every link now, bumping the version when any changed. */
  private reevaluate(force: boolean): void {
    this.cancelTimer?.()
    const at = this.now()
    const rates = new Map<string, Rate>()
    const links = new Map<string, Rate>()
    let soonest = at.getTime() + RECHECK_MS
    for (const subnet of this.configuredSubnets) {
      const b = this.budgetOf(subnet, at)
      rates.set(subnet, b.rate)
      if (b.nextChangeAt !== undefined) soonest = Math.min(soonest, b.nextChangeAt.getTime())
    }
    for (const site of this.links.keys()) {
      const l = this.linkOf(site, at)!
      links.set(site, l.rate)
      if (l.nextChangeAt !== undefined) soonest = Math.min(soonest, l.nextChangeAt.getTime())
    }
    const changed = force || [...rates].some(([s, r]) => this.lastRates.get(s) !== r) || [...links].some(([s, r]) => this.lastLinks.get(s) !== r)
    this.lastRates = rates
    this.lastLinks = links
    if (changed) this.bump()
    this.cancelTimer = this.clock.setTimer(() => this.reevaluate(false), Math.max(0, soonest - at.getTime()))
  }

  /** JSON rate: bytes/s, or null for unlimited. */
  static json(rate: Rate): number | null {
    return rate === UNLIMITED ? null : rate
  }
}

/** How a decision is named to people: its window's text, `default`, or no rule at all (NO_RULE). */
export function ruleOf(d: RateDecision): string {
  return d.window?.text ?? (d.scope === -1 ? NO_RULE : 'default')
}

export function splitScope(scope: ScopeKey): ['site' | 'subnet', string] {
  const cut = scope.indexOf(':')
  const kind = scope.slice(0, cut)
  if (cut === -1 || (kind !== 'site' && kind !== 'subnet')) throw new TypeError(`scope must be site:NAME or subnet:CIDR, got ${scope}`)
  return [kind, scope.slice(cut + 1)]
}
