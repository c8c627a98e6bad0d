import { systemClock, type Clock } from '../bandwidth/index.ts'
import { silentLogger, type Logger } from '../common/index.ts'
import { Budgets, splitScope, type BudgetNow, type OverrideSpec, type ScopeKey } from './budgets.ts'
import { parseCidr } from './cidr.ts'
import type { TrackerConfig } from './config.ts'
import type { DeploymentInput } from './deployment-input.ts'
import type { Deployment, DeploymentOffer, DeploymentReport } from './deployment-types.ts'
import { DeploymentTable, type DeploymentStatus, type StateCounts } from './deployments.ts'
import { leaseKey, LeaseTable, type Lease } from './leases.ts'
import { createTrackerMetrics, type TrackerMetrics } from './metrics.ts'
import { Registry, type HandedPeer, type Registration } from './registry.ts'
import type { KnownDp, LinkBudget, ReplicaOffer, ReplicaReport } from './replication-types.ts'
import type { StoreOp, TrackerStore } from './store/index.ts'

/** Byte counters a node reports per package, cumulative since it started. */
export interface ReportedBytes {
  /** Received from peers of the same site. */
  lan?: number
  /** Received from DPs and other peers across the WAN. */
  wan?: number
  /** Copied from chunks already on the node. */
  reused?: number
}

export interface AnnounceRequest {
  peerId: string
  role: 'client' | 'dp'
  addresses: string[]
  packages: Array<{
    id: string
    have: number
    pieces: number
    bytes?: ReportedBytes
    /** DPs: bytes uploaded per destination subnet, cumulative. */
    uploaded?: Record<string, number>
    /** DPs: the package's replication state here. */
    replica?: ReplicaReport
  }>
  /** `stopped`: the node is shutting down; its leases move on now. */
  event?: 'stopped'
  /** Clients: their state for each deployment they hold. */
  deployments?: DeploymentReport[]
}

export interface LeaseGrant {
  /** Bytes/s, null = unlimited. */
  rateBytesPerSec: number | null
  expiresAt: string
}

export interface SubnetBudget {
  subnet: string
  site: string | undefined
  /** Bytes/s this subnet may pull across the WAN now; null = unlimited. */
  rateBytesPerSec: number | null
}

export interface BudgetList {
  version: number
  /** Every configured subnet; the asking DP's own site's are null (LAN, not WAN). */
  subnets: SubnetBudget[]
  /** For addresses in no configured subnet, per /24. */
  unassignedRateBytesPerSec: number | null
  /** Every site with a parent: what its parent's DPs may send its DPs now. */
  links: LinkBudget[]
  /** Registered DPs: uploads to them go by link, not by subnet budget. */
  dps: KnownDp[]
}

export interface AnnounceAnswer {
  subnet: string
  site: string | null
  intervalSeconds: number
  packages: Array<{ id: string, peers: HandedPeer[], lease: LeaseGrant | null }>
  /** DPs only. */
  budgets?: BudgetList
  /** Clients: every deployment that targets them, neither cancelled nor expired. DPs: none. */
  deployments: DeploymentOffer[]
  /** DPs only: the catalogue packages this DP's site must hold. */
  replicate?: ReplicaOffer[]
}

export interface TrackerComponents {
  store: TrackerStore
  /** Wall clock for windows and expiry. @default () => new Date() */
  now?: () => Date
  /** Timers. @default systemClock */
  clock?: Clock
  logger?: Logger
  metrics?: TrackerMetrics
}

type ByteTotals = { lan: number, wan: number, reused: number, dpUpload: number }

const SOURCES = ['lan', 'wan', 'reused'] as const

/**
 * The tracker's state and policy, without HTTP: registrations placed by source address,
 * peers handed out by locality, WAN leases per subnet and package, per-subnet budgets, and
 * WAN byte totals. Every change is written to the store (one batch per tick) before the
 * call that made it returns.
 */
export class Tracker {
  readonly config: TrackerConfig
  readonly budgets: Budgets
  readonly metrics: TrackerMetrics
  private readonly registry = new Registry()
  private readonly leases = new LeaseTable()
  private readonly deploymentTable: DeploymentTable
  /** subnet → package → totals. */
  private readonly bytes = new Map<string, Map<string, ByteTotals>>()
  private readonly store: TrackerStore
  private readonly now: () => Date
  private readonly clock: Clock
  private readonly log: Logger
  private readonly siteSubnets = new Map<string, string[]>()
  private readonly dpServes = new Map<string, Set<string>>()
  private pending: StoreOp[] = []
  private batch: Promise<void> | undefined
  private writing = Promise.resolve()
  private cancelSweep: (() => void) | undefined

  private constructor(config: TrackerConfig, components: TrackerComponents) {
    this.config = config
    this.store = components.store
    this.now = components.now ?? (() => new Date())
    this.clock = components.clock ?? systemClock
    this.log = components.logger ?? silentLogger()
    this.budgets = new Budgets(config, { now: this.now, clock: this.clock })
    this.metrics = components.metrics ?? createTrackerMetrics()
    this.deploymentTable = new DeploymentTable(this.metrics)
    for (const s of config.sites) this.siteSubnets.set(s.name, s.subnets.map((c) => c.text))
    for (const d of config.dps) this.dpServes.set(d.peerId, new Set(d.serves))
    this.metrics.observe(this)
  }

  /** Loads saved state (dropping what expired while the tracker was down) and starts timers. */
  static async start(config: TrackerConfig, components: TrackerComponents): Promise<Tracker> {
    const t = new Tracker(config, components)
    const now = t.now().getTime()
    const stale: StoreOp[] = []
    for (const [key, value] of await t.store.list('override')) {
      try {
        t.budgets.checkScope(key)
        t.budgets.restoreOverride(key, value as OverrideSpec)
      } catch {
        t.log.warn({ scope: key }, 'saved override names a site or subnet no longer in the config: dropped')
        stale.push({ type: 'del', kind: 'override', key })
      }
    }
    for (const [key, value] of await t.store.list('registration')) {
      const reg = value as Registration
      if (reg.expiresAt > now) t.registry.put(reg)
      else stale.push({ type: 'del', kind: 'registration', key })
    }
    for (const [key, value] of await t.store.list('lease')) {
      const lease = value as Lease
      if (lease.expiresAt > now && t.registry.get(lease.peerId) !== undefined) t.leases.put(lease)
      else stale.push({ type: 'del', kind: 'lease', key })
    }
    for (const [key, value] of await t.store.list('bytes')) {
      const cut = key.indexOf(' ')
      t.totals(key.slice(0, cut), key.slice(cut + 1), value as ByteTotals)
    }
    for (const kind of ['deployment', 'manifest', 'report'] as const) {
      for (const [key, value] of await t.store.list(kind)) {
        const drop = t.deploymentTable.restore(kind, key, value)
        if (drop !== undefined) stale.push(drop)
      }
    }
    await t.store.write(stale)
    t.budgets.start()
    t.scheduleSweep()
    return t
  }

  async stop(): Promise<void> {
    this.budgets.stop()
    this.cancelSweep?.()
    this.cancelSweep = undefined
    await this.batch
    await this.writing
  }

  get registrations(): number {
    return this.registry.size
  }

  /** Handles one announce from `sourceIp` (the connection's address). */
  async announce(req: AnnounceRequest, sourceIp: string): Promise<AnnounceAnswer> {
    const started = performance.now()
    const now = this.now().getTime()
    const { subnet, site } = this.budgets.place(sourceIp)
    const ops: StoreOp[] = []
    const previous = this.registry.get(req.peerId)
    if (req.event === 'stopped') {
      this.forget(req.peerId, ops)
      await this.persist(ops)
      return { subnet, site: site ?? null, intervalSeconds: this.config.announceIntervalSeconds, packages: [], deployments: [] }
    }
    if (previous !== undefined && previous.subnet !== subnet) this.forget(req.peerId, ops) // moved: its leases were for the old subnet
    const reg: Registration = {
      peerId: req.peerId,
      role: req.role,
      ip: sourceIp,
      subnet,
      site,
      addresses: req.addresses.map((a) => a.replace(/^\/ip4\/0\.0\.0\.0\//, `/ip4/${sourceIp}/`)),
      packages: Object.fromEntries(req.packages.map((p) => [p.id, { have: p.have, pieces: p.pieces }])),
      counters: previous?.subnet === subnet ? previous.counters : {},
      expiresAt: now + this.config.registrationSeconds * 1000,
    }
    this.countBytes(reg, req, ops)
    if (req.role === 'client' && req.deployments !== undefined) this.deploymentTable.report(reg, req.deployments, ops)
    this.registry.put(reg)
    if (this.worthSaving(reg, previous, now)) ops.push({ type: 'put', kind: 'registration', key: reg.peerId, value: reg })

    const packages: AnnounceAnswer['packages'] = []
    for (const p of req.packages) {
      const wanted = p.have < p.pieces
      const lease = req.role === 'client' ? this.leaseFor(reg, p.id, wanted, now, ops) : undefined
      const peers = wanted
        ? this.registry.peersFor(reg, p.id, {
          max: this.config.maxPeers,
          wan: req.role === 'dp' || lease !== undefined,
          siteSubnets: site === undefined ? [] : this.siteSubnets.get(site) ?? [],
          servesSite: (dp, s) => this.dpServes.get(dp)?.has(s) ?? false,
        })
        : []
      packages.push({ id: p.id, peers, lease: lease === undefined ? null : { rateBytesPerSec: this.leaseRate(subnet), expiresAt: new Date(lease.expiresAt).toISOString() } })
    }
    // Leases of packages this client no longer reports at all.
    if (previous !== undefined) {
      for (const id of Object.keys(previous.packages)) if (!(id in reg.packages)) this.releaseLease(subnet, id, reg.peerId, ops)
    }
    await this.persist(ops)
    const deployments = req.role === 'client' ? this.deploymentTable.offersFor(reg, now) : []
    const answer: AnnounceAnswer = { subnet, site: site ?? null, intervalSeconds: this.config.announceIntervalSeconds, packages, deployments }
    if (req.role === 'dp') answer.budgets = this.budgetList(site)
    this.metrics.announces.inc({ role: req.role })
    this.metrics.announceSeconds.observe((performance.now() - started) / 1000)
    return answer
  }

  /**
   * A re-announce that changes nothing but the expiry is saved only once a third of the
   * registration's life has passed since the last save: a restarted tracker may then expire
   * a silent node up to a third early, never keep one too long.
   */
  private worthSaving(reg: Registration, previous: Registration | undefined, now: number): boolean {
    reg.signature = signatureOf(reg)
    reg.savedAt = now
    if (previous === undefined || previous.signature !== reg.signature || previous.savedAt === undefined) return true
    if (now - previous.savedAt >= this.config.registrationSeconds * 1000 / 3) return true
    reg.savedAt = previous.savedAt
    return false
  }

  /** The rate each lease holder of a subnet gets: its budget split evenly. */
  leaseRate(subnet: string): number | null {
    const rate = this.budgets.rateOf(subnet)
    return Budgets.json(rate / Math.max(1, this.leases.activeIn(subnet)))
  }

  /** Per-subnet budgets as a DP of `dpSite` enforces them. */
  budgetList(dpSite: string | undefined): BudgetList {
    return {
      version: this.budgets.version,
      subnets: this.config.sites.flatMap((s) => s.subnets.map((c) => ({
        subnet: c.text,
        site: s.name,
        rateBytesPerSec: s.name === dpSite ? null : Budgets.json(this.budgets.rateOf(c.text)),
      }))),
      unassignedRateBytesPerSec: Budgets.json(this.budgets.rateOf('')),
      links: [], // TODO(issue 7): link rates
      dps: [],
    }
  }

  /** Resolves with the budgets once their version is past `after`, or after `waitMs`. */
  async waitForBudgets(after: number, waitMs: number, signal?: AbortSignal): Promise<number> {
    if (this.budgets.version > after) return this.budgets.version
    return new Promise((resolve) => {
      const done = (): void => {
        cancel()
        this.budgets.off('change', done)
        signal?.removeEventListener('abort', done)
        resolve(this.budgets.version)
      }
      const cancel = this.clock.setTimer(done, waitMs)
      this.budgets.on('change', done)
      signal?.addEventListener('abort', done)
    })
  }

  async setOverride(scope: ScopeKey, spec: OverrideSpec): Promise<OverrideSpec> {
    const merged = this.budgets.setOverride(scope, spec)
    await this.persist([{ type: 'put', kind: 'override', key: scope, value: merged }])
    return merged
  }

  async clearOverride(scope: ScopeKey): Promise<boolean> {
    const had = this.budgets.clearOverride(scope)
    if (had) await this.persist([{ type: 'del', kind: 'override', key: scope }])
    return had
  }

  /** Checks the manifest against the trusted publishers and registers the deployment. */
  async createDeployment(input: DeploymentInput): Promise<Deployment> {
    const { deployment, ops } = this.deploymentTable.create(input, { trusted: this.config.trusted, sites: [...this.siteSubnets.keys()], now: this.now() })
    await this.persist(ops)
    return deployment
  }

  /** Cancels it (kept, with its reports): it leaves every client's announce answer. */
  async cancelDeployment(id: string): Promise<Deployment> {
    const { deployment, ops } = this.deploymentTable.cancel(id, this.now())
    await this.persist(ops)
    return deployment
  }

  listDeployments(): Deployment[] {
    return this.deploymentTable.list()
  }

  getDeployment(id: string): Deployment {
    return this.deploymentTable.get(id)
  }

  /** The canonical signed manifest of a deployed package, as hashed for its id. */
  manifest(packageId: string): string {
    return this.deploymentTable.manifest(packageId)
  }

  /** Clients' states per site and subnet, with their bytes and what DPs sent each subnet. */
  deploymentStatus(id: string): DeploymentStatus {
    return this.deploymentTable.status(id, this.config.sites, (subnet, packageId) => this.bytes.get(subnet)?.get(packageId)?.dpUpload ?? 0)
  }

  deploymentClientCounts(): Array<{ deployment: string, counts: StateCounts }> {
    return this.deploymentTable.clientCounts()
  }

  /** A scope's config, override, effective rules and budget now. */
  describe(scope: ScopeKey): Record<string, unknown> {
    this.budgets.checkScope(scope)
    const [kind, name] = splitScope(scope)
    const policy = this.budgets.policyOf(scope)
    const subnet = kind === 'subnet' ? name : this.siteSubnets.get(name)?.[0]
    return {
      [kind]: name,
      override: this.budgets.override(scope) ?? null,
      effective: {
        timezone: policy.schedule.timeZone,
        default: policy.schedule.defaultRate === undefined ? null : Budgets.json(policy.schedule.defaultRate),
        windows: policy.schedule.windows.map((w) => w.text),
        maxWanClients: policy.maxWanClients ?? null,
      },
      ...(subnet !== undefined && { budgetNow: budgetJson(this.budgets.budgetOf(subnet)) }),
    }
  }

  /** Per site and subnet: nodes, leases, budget now, bytes per package, deployments reported on. */
  status(): Record<string, unknown> {
    const deployments = this.deploymentTable.countsBySubnet()
    const nodes = new Map<string, { clients: number, dps: number }>()
    for (const r of this.registry.all()) {
      const n = nodes.get(r.subnet) ?? { clients: 0, dps: 0 }
      if (r.role === 'dp') n.dps++
      else n.clients++
      nodes.set(r.subnet, n)
    }
    const subnetStatus = (subnet: string): Record<string, unknown> => ({
      subnet,
      nodes: nodes.get(subnet) ?? { clients: 0, dps: 0 },
      budget: budgetJson(this.budgets.budgetOf(subnet)),
      maxWanClients: this.budgets.maxWanClientsOf(subnet),
      leases: this.leases.all().filter((l) => l.subnet === subnet).map((l) => ({ peerId: l.peerId, packageId: l.packageId, expiresAt: new Date(l.expiresAt).toISOString() })),
      packages: [...(this.bytes.get(subnet) ?? new Map<string, ByteTotals>()).entries()].map(([id, b]) => ({ packageId: id, lanBytes: b.lan, wanBytes: b.wan, reusedBytes: b.reused, dpUploadBytes: b.dpUpload })),
      deployments: deployments.get(subnet) ?? [],
    })
    const configured = new Set(this.budgets.configuredSubnets)
    const others = new Set([...nodes.keys(), ...this.bytes.keys(), ...deployments.keys()].filter((s) => !configured.has(s)))
    return {
      time: this.now().toISOString(),
      budgetVersion: this.budgets.version,
      sites: this.config.sites.map((s) => ({ name: s.name, timezone: s.timeZone, subnets: s.subnets.map((c) => subnetStatus(c.text)) })),
      unassigned: [...others].sort().map(subnetStatus),
    }
  }

  /** Leases active, by subnet (for metrics). */
  leasesBySubnet(): Map<string, number> {
    const out = new Map<string, number>()
    for (const l of this.leases.all()) out.set(l.subnet, (out.get(l.subnet) ?? 0) + 1)
    return out
  }

  registeredByRole(): { client: number, dp: number } {
    const out = { client: 0, dp: 0 }
    for (const r of this.registry.all()) out[r.role]++
    return out
  }

  private leaseFor(reg: Registration, packageId: string, wanted: boolean, now: number, ops: StoreOp[]): Lease | undefined {
    if (!wanted) {
      this.releaseLease(reg.subnet, packageId, reg.peerId, ops)
      return undefined
    }
    const { lease, expired } = this.leases.acquire(reg.subnet, packageId, reg.peerId, this.budgets.maxWanClientsOf(reg.subnet), now, this.config.leaseSeconds * 1000)
    for (const l of expired) ops.push({ type: 'del', kind: 'lease', key: leaseKey(l) })
    if (lease !== undefined) ops.push({ type: 'put', kind: 'lease', key: leaseKey(lease), value: lease })
    return lease
  }

  private releaseLease(subnet: string, packageId: string, peerId: string, ops: StoreOp[]): void {
    const l = this.leases.release(subnet, packageId, peerId)
    if (l !== undefined) ops.push({ type: 'del', kind: 'lease', key: leaseKey(l) })
  }

  /** Drops a node and hands its leases back. */
  private forget(peerId: string, ops: StoreOp[]): void {
    const reg = this.registry.remove(peerId)
    if (reg === undefined) return
    ops.push({ type: 'del', kind: 'registration', key: peerId })
    for (const id of Object.keys(reg.packages)) this.releaseLease(reg.subnet, id, peerId, ops)
  }

  /** Turns cumulative counters into deltas on the subnet's totals (a restarted node starts again from 0). */
  private countBytes(reg: Registration, req: AnnounceRequest, ops: StoreOp[]): void {
    for (const p of req.packages) {
      const prev = reg.counters[p.id] ?? {}
      const next: Record<string, number> = {}
      const add = (subnet: string, source: keyof ByteTotals, key: string, value: number | undefined): void => {
        if (value === undefined || value <= 0) return
        next[key] = value
        const before = prev[key] ?? 0
        const delta = value >= before ? value - before : value
        if (delta === 0) return
        const t = this.totals(subnet, p.id)
        t[source] += delta
        this.metrics.reportedBytes.inc({ subnet, source }, delta)
        ops.push({ type: 'put', kind: 'bytes', key: `${subnet} ${p.id}`, value: t })
      }
      for (const s of SOURCES) add(reg.subnet, s, s, p.bytes?.[s])
      for (const [to, n] of Object.entries(p.uploaded ?? {})) {
        const cidr = parseCidr(to)
        if (cidr !== undefined) add(this.budgets.place(to.slice(0, to.indexOf('/'))).subnet, 'dpUpload', `up ${cidr.text}`, n)
      }
      reg.counters[p.id] = next
    }
  }

  private totals(subnet: string, packageId: string, initial?: ByteTotals): ByteTotals {
    let m = this.bytes.get(subnet)
    if (m === undefined) this.bytes.set(subnet, m = new Map())
    let t = m.get(packageId)
    if (t === undefined) m.set(packageId, t = initial ?? { lan: 0, wan: 0, reused: 0, dpUpload: 0 })
    return t
  }

  /** Writes the ops with every other op of this tick, in one batch, after the batches before it. */
  private persist(ops: StoreOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve()
    this.pending.push(...ops)
    this.batch ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const batch = this.pending
      this.pending = []
      this.batch = undefined
      // A failed batch fails the requests that made it, not every batch after it.
      const write = this.writing.catch(() => {}).then(() => this.store.write(batch))
      this.writing = write
      return write
    })
    return this.batch
  }

  /** Expires registrations and leases every few seconds. */
  private scheduleSweep(): void {
    const every = Math.min(5_000, this.config.announceIntervalSeconds * 1000)
    const sweep = (): void => {
      const now = this.now().getTime()
      const ops: StoreOp[] = []
      for (const reg of this.registry.expire(now)) {
        ops.push({ type: 'del', kind: 'registration', key: reg.peerId })
        for (const id of Object.keys(reg.packages)) this.releaseLease(reg.subnet, id, reg.peerId, ops)
      }
      for (const l of this.leases.expire(now)) ops.push({ type: 'del', kind: 'lease', key: leaseKey(l) })
      this.persist(ops).catch((err: Error) => this.log.error({ err: err.message }, 'tracker store write failed'))
      this.cancelSweep = this.clock.setTimer(sweep, every)
    }
    this.cancelSweep = this.clock.setTimer(sweep, every)
  }
}

/** Everything of a registration but its expiry, as one string to compare. */
function signatureOf(reg: Registration): string {
  let s = `${reg.role}|${reg.ip}|${reg.addresses.join(' ')}`
  for (const [id, p] of Object.entries(reg.packages)) s += `|${id}:${p.have}/${p.pieces}`
  for (const [id, c] of Object.entries(reg.counters)) for (const [k, v] of Object.entries(c)) s += `|${id}.${k}=${v}`
  return s
}

function budgetJson(b: BudgetNow): Record<string, unknown> {
  return { rateBytesPerSec: Budgets.json(b.rate), rule: b.rule, decidedBy: b.decidedBy, nextChangeAt: b.nextChangeAt?.toISOString() ?? null }
}
