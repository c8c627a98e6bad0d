import { systemClock, type Clock, type Rate } from '../bandwidth/index.ts'
import { AnnounceHandler } from './announce.ts'
import { silentLogger, type Logger } from '../common/index.ts'
import { BatchWriter } from './batch-writer.ts'
import { Budgets, type OverrideSpec, type ScopeKey } from './budgets.ts'
import { ByteTotalsTable, type ByteTotals } from './byte-totals.ts'
import type { TrackerConfig } from './config.ts'
import { checkManifest } from './deployment-input.ts'
import { DeploymentTable } from './deployments.ts'
import { leaseKey, LeaseTable, type Lease } from './leases.ts'
import { ManifestTable } from './manifests.ts'
import { NodeChanges } from './node-changes.ts'
import { createTrackerMetrics, type TrackerMetrics, type TrackerMetricsSource } from './metrics.ts'
import { PackageCatalogue } from './packages.ts'
import { lastSeenOf, Registry, type Registration } from './registry.ts'
import { ReplicaPlan, SiteTree } from './replication.ts'
import { describeScope, dpPackageCounts, nodeSummary, packageStatus, trackerStatus, type TrackerView } from './status.ts'
import { ReplicaSync } from './replica-sync.ts'
import { applyStoredOp, storedKeys, type StoredTables } from './stored-ops.ts'
import { backupLines, type Change, type StoreKind, type StoreOp, type StoreSnapshot, type TrackerStore } from './store/index.ts'
import type { SignedManifest } from '../chunker/index.ts'
import { TrackerErrorCodes, trackerError, type AnnounceAnswer, type AnnounceRequest, type BudgetList, type CataloguePackage, type Deployment, type DeploymentInput, type DeploymentStatus, type StateCounts, type KnownDp, type LinkBudget, type PackageStatus } from './protocol/index.ts'

export type { AnnounceAnswer, AnnounceRequest, BudgetList, LeaseGrant, ReportedBytes, SubnetBudget } from './protocol/index.ts'

export interface TrackerComponents {
  store: TrackerStore
  /** Wall clock for windows and expiry. @default () => new Date() */
  now?: () => Date
  /** Timers. @default systemClock */
  clock?: Clock
  logger?: Logger
  metrics?: TrackerMetrics
}

/**
 * The tracker's state and policy, without HTTP: registrations placed by source address,
 * peers handed out by locality (and to DPs, down the site tree), WAN leases per subnet and
 * package, per-subnet and per-link budgets, WAN byte totals, deployments, and the catalogue
 * of packages DPs replicate. Every change is written to the store (one batch per tick, or per store write under load)
 * before the call that made it returns.
 */
export class Tracker implements TrackerMetricsSource {
  readonly config: TrackerConfig
  readonly budgets: Budgets
  readonly metrics: TrackerMetrics
  private readonly registry = new Registry()
  private readonly leases = new LeaseTable()
  private readonly manifests = new ManifestTable()
  private readonly deploymentTable: DeploymentTable
  private readonly catalogue = new PackageCatalogue(this.manifests)
  private readonly bytes: ByteTotalsTable
  private readonly tree: SiteTree
  /** What each site's DPs must hold: rebuilt when the catalogue changes. */
  private plan: ReplicaPlan
  private readonly store: TrackerStore
  private readonly writer: BatchWriter
  /** The wall clock windows, expiry and signature times are read from. */
  readonly now: () => Date
  private readonly clock: Clock
  private readonly log: Logger
  private readonly siteSubnets = new Map<string, string[]>()
  private readonly announcer: AnnounceHandler
  /** Nodes' long-polls for changes that concern them (deployments). */
  private readonly changes: NodeChanges
  private cancelSweep: (() => void) | undefined
  /** With a shared store: what keeps this replica current with the others. */
  private sync: ReplicaSync | undefined

  private constructor(config: TrackerConfig, components: TrackerComponents) {
    this.config = config
    this.store = components.store
    this.writer = new BatchWriter(this.store)
    this.now = components.now ?? (() => new Date())
    this.clock = components.clock ?? systemClock
    this.changes = new NodeChanges(this.clock, (peerId) => this.registry.get(peerId))
    this.log = components.logger ?? silentLogger()
    this.budgets = new Budgets(config, { now: this.now, clock: this.clock })
    this.metrics = components.metrics ?? createTrackerMetrics()
    this.deploymentTable = new DeploymentTable(this.metrics, this.manifests)
    this.bytes = new ByteTotalsTable(this.metrics)
    this.tree = new SiteTree(config.sites)
    this.plan = new ReplicaPlan(config.sites, [], this.tree)
    for (const s of config.sites) this.siteSubnets.set(s.name, s.subnets.map((c) => c.text))
    this.announcer = new AnnounceHandler({
      config,
      budgets: this.budgets,
      registry: this.registry,
      leases: this.leases,
      bytes: this.bytes,
      deployments: this.deploymentTable,
      catalogue: this.catalogue,
      tree: this.tree,
      metrics: this.metrics,
      now: this.now,
      plan: () => this.plan,
      write: (ops) => this.writer.write(ops),
      forget: (peerId, ops, stopped) => this.forget(peerId, ops, stopped),
      releaseLease: (subnet, packageId, peerId, ops) => this.releaseLease(subnet, packageId, peerId, ops),
      leaseRefused: (subnet, packageId, peerId) => this.changes.leaseRefused(subnet, packageId, peerId),
      leaseRate: (subnet) => this.leaseRate(subnet),
      budgetList: (site) => this.budgetList(site),
      shared: this.store.shared,
    })
    this.metrics.observe(this)
  }

  /** Loads saved state (dropping what expired while the tracker was down) and starts timers. */
  static async start(config: TrackerConfig, components: TrackerComponents): Promise<Tracker> {
    const t = new Tracker(config, components)
    const shared = t.store.shared
    let snapshot: StoreSnapshot | undefined
    if (shared !== undefined) {
      const tables = t.storedTables()
      const started = await ReplicaSync.start(shared, { apply: (op) => applyStoredOp(tables, op), keys: (kind) => storedKeys(tables, kind) }, t.clock, t.log)
      t.sync = started.sync
      snapshot = started.snapshot
    }
    const listed = async (kind: StoreKind): Promise<Array<[string, unknown]>> => (snapshot === undefined ? t.store.list(kind) : snapshot.kinds.get(kind) ?? [])
    const now = t.now().getTime()
    const stale: StoreOp[] = []
    for (const [key, value] of await listed('override')) {
      try {
        t.budgets.checkScope(key)
        t.budgets.restoreOverride(key, value as OverrideSpec)
      } catch {
        t.log.warn({ scope: key }, 'saved override names a site or subnet no longer in the config: dropped')
        stale.push({ type: 'del', kind: 'override', key })
      }
    }
    for (const [key, value] of await listed('registration')) {
      const reg = value as Registration
      if (reg.expiresAt > now) t.registry.put(reg)
      else {
        // Went silent while the tracker was down: shown offline since its last announce.
        t.registry.depart(reg, lastSeenOf(reg, t.config.registrationSeconds), false)
        stale.push({ type: 'del', kind: 'registration', key })
      }
    }
    for (const [key, value] of await listed('lease')) {
      const lease = value as Lease
      if (lease.expiresAt > now && t.registry.get(lease.peerId) !== undefined) t.leases.put(lease)
      else stale.push({ type: 'del', kind: 'lease', key })
    }
    for (const [key, value] of await listed('bytes')) t.bytes.restore(key, value)
    for (const [key, value] of await listed('manifest')) t.manifests.restore(key, value)
    for (const kind of ['deployment', 'report'] as const) {
      for (const [key, value] of await listed(kind)) {
        const drop = t.deploymentTable.restore(kind, key, value)
        if (drop !== undefined) stale.push(drop)
      }
    }
    for (const [key, value] of await listed('package')) {
      if (t.manifests.has(key)) t.catalogue.restore(key, value)
      else stale.push({ type: 'del', kind: 'package', key }) // nodes could not fetch it
    }
    t.replan()
    await t.store.write(stale)
    if (snapshot !== undefined) t.sync?.ready(snapshot)
    t.budgets.start()
    t.scheduleSweep()
    return t
  }

  async stop(): Promise<void> {
    this.sync?.stop()
    this.budgets.stop()
    this.cancelSweep?.()
    this.cancelSweep = undefined
    await this.writer.flush()
  }

  /**
   * Everything the store holds, as a backup's lines (store/backup.ts): a change is in the store
   * before it takes effect, so the store alone is the whole state, read at one instant.
   */
  async backup(): Promise<AsyncGenerator<string>> {
    await this.writer.flush()
    return backupLines(this.store.dump(), this.now().getTime())
  }

  get registrations(): number {
    return this.registry.size
  }

  /** Handles one announce from `sourceIp` (the connection's address): announce.ts. */
  announce(req: AnnounceRequest, sourceIp: string): Promise<AnnounceAnswer> {
    return this.announcer.announce(req, sourceIp)
  }

  /** Forgets a node now (admin): its registration, leases and subnet binding; false if it was not registered. */
  async releaseNode(peerId: string): Promise<{ peerId: string, released: boolean }> {
    if (this.registry.get(peerId) === undefined) return { peerId, released: false }
    const ops: StoreOp[] = []
    this.forget(peerId, ops)
    await this.writer.write(ops)
    return { peerId, released: true }
  }

  /** The rate each lease holder of a subnet gets: its budget split evenly. */
  leaseRate(subnet: string): number | null {
    const rate = this.budgets.rateOf(subnet)
    return Budgets.json(rate / Math.max(1, this.leases.activeIn(subnet)))
  }

  /** Per-subnet budgets as a DP of `dpSite` enforces them, the links' rates, and the DPs. */
  budgetList(dpSite: string | undefined): BudgetList {
    return {
      version: this.budgets.version,
      subnets: this.config.sites.flatMap((s) => s.subnets.map((c) => ({
        subnet: c.text,
        site: s.name,
        rateBytesPerSec: s.name === dpSite ? null : Budgets.json(this.budgets.rateOf(c.text)),
      }))),
      unassignedRateBytesPerSec: Budgets.json(this.budgets.rateOf('')),
      links: this.budgets.linkedSites.map((site): LinkBudget => ({ site, parent: this.tree.parentOf(site)!, rateBytesPerSec: Budgets.json(this.budgets.linkRateOf(site)!) })),
      dps: [...this.registry.dps()].map((r): KnownDp => ({ peerId: r.peerId, site: r.site ?? null })),
    }
  }

  /** Resolves with the budgets once their version is past `after`, or after `waitMs`. */
  async waitForBudgets(after: number, waitMs: number, signal?: AbortSignal): Promise<number> {
    if (this.budgets.version > after || signal?.aborted === true) return this.budgets.version
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

  /** Saved first, in force once saved: a failed write (STORE_FAILED) leaves the budgets as they were. */
  async setOverride(scope: ScopeKey, spec: OverrideSpec): Promise<OverrideSpec> {
    const merged = this.budgets.mergedOverride(scope, spec)
    await this.writer.write([{ type: 'put', kind: 'override', key: scope, value: merged }])
    this.budgets.applyOverride(scope, merged)
    return merged
  }

  async clearOverride(scope: ScopeKey): Promise<boolean> {
    this.budgets.checkScope(scope)
    if (this.budgets.override(scope) === undefined) return false
    await this.writer.write([{ type: 'del', kind: 'override', key: scope }])
    this.budgets.applyOverride(scope, undefined)
    return true
  }

  /** Checks the manifest against the trusted publishers, registers the deployment, and lists its package for the DPs. */
  async createDeployment(input: DeploymentInput): Promise<Deployment> {
    const now = this.now()
    const created = this.deploymentTable.create(input, { trusted: this.config.trusted, sites: [...this.siteSubnets.keys()], now })
    this.checkVersionFree(created.signed)
    const added = this.catalogue.add(created.signed, now)
    await this.commit(created, added)
    if (added.created) this.replan()
    this.deploymentChanged(created.deployment.id)
    return created.deployment
  }

  /** Cancels it (kept, with its reports): it leaves every client's announce answer. */
  async cancelDeployment(id: string): Promise<Deployment> {
    const cancelled = this.deploymentTable.cancel(id, this.now())
    await this.commit(cancelled)
    this.deploymentChanged(id)
    return cancelled.deployment
  }

  /** Answers the long-polls of the clients a deployment targets: they announce for it at once. */
  private deploymentChanged(id: string): void {
    this.changes.changed(this.registry.all(), (reg) => reg.role === 'client' && this.deploymentTable.targetsClient(id, reg))
  }

  /** A node's long-poll (GET /v1/changes): see NodeChanges.wait. */
  waitForChanges(peerId: string, after: number, waitMs: number, signal?: AbortSignal): Promise<{ version: number, changed: boolean }> {
    return this.changes.wait(peerId, after, waitMs, signal)
  }

  listDeployments(): Deployment[] {
    return this.deploymentTable.list()
  }

  getDeployment(id: string): Deployment {
    return this.deploymentTable.get(id)
  }

  /** The canonical signed manifest of a catalogued or deployed package, as hashed for its id. */
  manifest(packageId: string): string {
    return this.manifests.get(packageId)
  }

  /** Clients' states per site and subnet, with their bytes and what DPs sent each subnet. */
  deploymentStatus(id: string): DeploymentStatus {
    return this.deploymentTable.status(id, this.config.sites, (subnet, packageId) => this.bytes.of(subnet).get(packageId)?.dpUpload ?? 0, (peerId) => nodeSummary({ config: this.config, registry: this.registry }, peerId))
  }

  deploymentClientCounts(): Array<{ deployment: string, counts: StateCounts }> {
    return this.deploymentTable.clientCounts()
  }

  liveDeployments(): Deployment[] {
    return this.deploymentTable.live(this.now().getTime())
  }

  /** Lists a package from a trusted publisher for the DPs; `created` false when it was listed already. */
  async addPackage(manifestText: string): Promise<{ entry: CataloguePackage, created: boolean }> {
    const signed = checkManifest(manifestText, this.config.trusted, 'package')
    this.checkVersionFree(signed)
    const added = this.catalogue.add(signed, this.now())
    await this.commit(added)
    if (added.created) this.replan()
    return { entry: added.entry, created: added.created }
  }

  listPackages(): CataloguePackage[] {
    return this.catalogue.list()
  }

  /** Unlists it (DPs delete their replicas); refused while a deployment neither cancelled nor expired names it. */
  async removePackage(id: string): Promise<CataloguePackage> {
    const removed = this.catalogue.remove(id, this.deploymentTable.usersOf(id, this.now().getTime()))
    await this.commit(removed)
    this.replan()
    return removed.entry
  }

  /**
   * `NAME@VERSION` names one package id, whichever the catalogue or a deployment (cancelled
   * and expired ones included) bound it to first: another content under it is refused.
   */
  private checkVersionFree(signed: SignedManifest): void {
    const { name, version } = signed.manifest
    const bound = [...this.catalogue.list().map((p) => ({ ...p, what: 'the catalogue' })), ...this.deploymentTable.list().map((d) => ({ id: d.packageId, name: d.name, version: d.version, what: `deployment ${d.id}` }))]
      .find((p) => p.name === name && p.version === version && p.id !== signed.packageId)
    if (bound !== undefined) {
      throw trackerError(TrackerErrorCodes.VERSION_TAKEN, `${name}@${version} is already package ${bound.id} (in ${bound.what}); this manifest is ${signed.packageId}: a version is immutable, publish the change as a new version`, { details: { packageId: bound.id } })
    }
  }

  /** Writes the changes' ops in one batch, then puts them in force: a failed write changes nothing. */
  private async commit(...changes: Change[]): Promise<void> {
    await this.writer.write(changes.flatMap((c) => c.ops))
    for (const c of changes) c.apply()
  }

  /** Per catalogue package, per site that must hold it, per DP: its replica's state. */
  packageStatus(): PackageStatus {
    return packageStatus(this.view())
  }

  /** A scope's config, override, effective rules and budget now. */
  describe(scope: ScopeKey): Record<string, unknown> {
    return describeScope(this.view(), scope)
  }

  /** Per site and subnet: nodes, leases, budget now, bytes per package, deployments reported on. */
  status(): Record<string, unknown> {
    return trackerStatus(this.view())
  }

  /** Leases active, by subnet (for metrics). */
  leasesBySubnet(): Map<string, number> {
    const out = new Map<string, number>()
    for (const l of this.leases.all()) out.set(l.subnet, (out.get(l.subnet) ?? 0) + 1)
    return out
  }

  /** Each configured subnet and its WAN budget now (for metrics). */
  subnetRates(): Array<[string, Rate]> {
    return this.budgets.configuredSubnets.map((subnet) => [subnet, this.budgets.rateOf(subnet)])
  }

  /** Site → replica state → DP × package pairs (for metrics). */
  dpPackageCounts(): Map<string, Map<string, number>> {
    return dpPackageCounts(this.packageStatus())
  }

  /** Live registrations, read-only: the dashboard's node list. */
  nodes(): IterableIterator<Readonly<Registration>> {
    return this.registry.all()
  }

  /** Package → bytes counted, per subnet counted, read-only: the dashboard's history samples them cheaply. */
  *bytesBySubnet(): Generator<[string, ReadonlyMap<string, Readonly<ByteTotals>>]> {
    for (const subnet of this.bytes.subnets()) yield [subnet, this.bytes.of(subnet)]
  }

  registeredByRole(): { client: number, dp: number } {
    const out = { client: 0, dp: 0 }
    for (const r of this.registry.all()) out[r.role]++
    return out
  }

  /** The tables other replicas' ops land in (shared store). */
  private storedTables(): StoredTables {
    const { registry, leases, budgets, bytes, manifests, deploymentTable: deployments, catalogue } = this
    return {
      registry, leases, budgets, bytes, manifests, deployments, catalogue,
      deploymentChanged: (id) => this.deploymentChanged(id),
      catalogueChanged: () => this.replan(),
      leaseFreed: (subnet, packageId) => this.changes.leaseFreed(subnet, packageId),
    }
  }

  private view(): TrackerView {
    const { config, budgets, registry, leases, bytes, deploymentTable: deployments, catalogue, plan } = this
    return { config, budgets, registry, leases, bytes, deployments, catalogue, plan, now: this.now() }
  }

  /** A new plan wakes the DPs' budget long-polls, so they announce for it at once. */
  private replan(): void {
    this.plan = new ReplicaPlan(this.config.sites, this.catalogue.list(), this.tree)
    this.budgets.bump()
  }

  private releaseLease(subnet: string, packageId: string, peerId: string, ops: StoreOp[]): void {
    const l = this.leases.release(subnet, packageId, peerId)
    if (l === undefined) return
    ops.push({ type: 'del', kind: 'lease', key: leaseKey(l) })
    this.changes.leaseFreed(subnet, packageId)
  }

  /**
   * Drops a node and hands its leases back; a DP gone is news to the other DPs. One that
   * said it stopped is remembered as stopped (an admin's release forgets it altogether).
   */
  private forget(peerId: string, ops: StoreOp[], stopped = false): void {
    const reg = this.registry.remove(peerId)
    if (reg === undefined) return
    if (stopped) this.registry.depart(reg, this.now().getTime(), true)
    this.dropped(reg, ops)
  }

  private dropped(reg: Registration, ops: StoreOp[]): void {
    ops.push({ type: 'del', kind: 'registration', key: reg.peerId })
    for (const id of Object.keys(reg.packages)) this.releaseLease(reg.subnet, id, reg.peerId, ops)
    if (reg.role === 'dp') this.budgets.bump()
  }

  /** Expires registrations and leases every few seconds. */
  private scheduleSweep(): void {
    const every = Math.min(5_000, this.config.announceIntervalSeconds * 1000)
    const sweep = (): void => {
      const now = this.now().getTime()
      const ops: StoreOp[] = []
      for (const reg of this.registry.expire(now)) {
        this.registry.depart(reg, lastSeenOf(reg, this.config.registrationSeconds), false)
        this.dropped(reg, ops)
      }
      this.registry.pruneDeparted(now)
      for (const l of this.leases.expire(now)) {
        ops.push({ type: 'del', kind: 'lease', key: leaseKey(l) })
        this.changes.leaseFreed(l.subnet, l.packageId)
      }
      this.writer.write(ops).catch((err: Error) => this.log.error({ err: err.message }, 'tracker store write failed'))
      this.cancelSweep = this.clock.setTimer(sweep, every)
    }
    this.cancelSweep = this.clock.setTimer(sweep, every)
  }
}
