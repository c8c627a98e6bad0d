import type { SiteConfig } from './config.ts'
import type { SignedManifest } from '../chunker/index.ts'
import { buildDeployment, targetSet, type TargetSet } from './deployment-input.ts'
import { cidrContains, cidrsOverlap, parseCidr, TrackerErrorCodes, trackerError, type ClientProgress, type NodeSummary, type Deployment, type DeploymentInput, type DeploymentOffer, type DeploymentReport, type DeploymentState, type DeploymentStatus, type StateCounts, type SubnetProgress } from './protocol/index.ts'
import type { ManifestTable } from './manifests.ts'
import type { TrackerMetrics } from './metrics.ts'
import type { Change, StoreOp } from './store/index.ts'

/** A client's latest report for one deployment, with where the tracker placed the client then. */
export interface StoredReport extends DeploymentReport {
  peerId: string
  subnet: string
  site: string | null
}

/** Where an announcing client is: what its deployments are matched against. */
export interface ClientPlace {
  peerId: string
  ip: string
  site: string | undefined
}

interface Entry {
  deployment: Deployment
  targets: TargetSet
  offer: DeploymentOffer
  /** expiresAt in ms; Infinity when it never expires. */
  expiresMs: number
  /** peer id → latest report. */
  reports: Map<string, StoredReport>
}

const EXIT_STATES: ReadonlySet<DeploymentState> = new Set(['succeeded', 'failed'])
export const reportKey = (deploymentId: string, peerId: string): string => `${deploymentId} ${peerId}`

function offerOf(d: Deployment): DeploymentOffer {
  const { id, packageId, name, version, program, availableAt, mandatoryAt, expiresAt, jitterSeconds, timeoutSeconds } = d
  return { id, packageId, name, version, program, availableAt, mandatoryAt, expiresAt, jitterSeconds, ...(timeoutSeconds !== undefined && { timeoutSeconds }) }
}

/** Everything of a report but its time, as one string: a report that changes only updatedAt is not saved. */
function signatureOf(r: StoredReport): string {
  return JSON.stringify([r.state, r.progress, r.reason, r.exitCode, r.logTail, r.bytes.lan, r.bytes.wan, r.bytes.reused, r.verifyFailures, r.subnet, r.site])
}

function isLive(e: Entry, nowMs: number): boolean {
  return e.deployment.cancelledAt === null && e.expiresMs > nowMs
}

function notFound(id: string): never {
  throw trackerError(TrackerErrorCodes.NOT_FOUND, `no deployment '${id}' on this tracker (peerstage deploy list shows them)`)
}

/**
 * Deployments and each client's latest report; their manifests go to the shared
 * ManifestTable. Pure state: an admin change returns its store ops and an `apply`, called
 * once the ops are written; a report (soft state) adds its ops to the announce's batch.
 */
export class DeploymentTable {
  private readonly entries = new Map<string, Entry>()
  private readonly manifests: ManifestTable
  private readonly metrics: TrackerMetrics

  constructor(metrics: TrackerMetrics, manifests: ManifestTable) {
    this.metrics = metrics
    this.manifests = manifests
  }

  create(input: DeploymentInput, context: { trusted: readonly string[], sites: readonly string[], now: Date }): { deployment: Deployment, signed: SignedManifest } & Change {
    const { deployment, signed } = buildDeployment(input, { ...context, taken: (id) => this.entries.has(id) })
    return {
      deployment, signed,
      ops: [...this.manifests.putOps(signed), { type: 'put', kind: 'deployment', key: deployment.id, value: deployment }],
      apply: () => {
        this.manifests.keep(signed)
        this.add(deployment)
      },
    }
  }

  /**
   * Deployments that name the package: `active` those neither cancelled nor expired at
   * `nowMs` (they keep it in the catalogue), `any` whether one names it at all (its
   * manifest stays, as deployments do).
   */
  usersOf(packageId: string, nowMs: number): { active: Deployment[], any: boolean } {
    const named = [...this.entries.values()].filter((e) => e.deployment.packageId === packageId)
    return { active: named.filter((e) => isLive(e, nowMs)).map((e) => e.deployment), any: named.length > 0 }
  }

  /** Deployments neither cancelled nor expired at `nowMs`. */
  live(nowMs: number): Deployment[] {
    return [...this.entries.values()].filter((e) => isLive(e, nowMs)).map((e) => e.deployment)
  }

  /** Marks it cancelled (kept, so its reports stay readable); cancelling twice keeps the first time. */
  cancel(id: string, now: Date): { deployment: Deployment } & Change {
    const entry = this.entries.get(id) ?? notFound(id)
    if (entry.deployment.cancelledAt !== null) return { deployment: entry.deployment, ops: [], apply: () => {} }
    const deployment = { ...entry.deployment, cancelledAt: now.toISOString() }
    return { deployment, ops: [{ type: 'put', kind: 'deployment', key: id, value: deployment }], apply: () => { entry.deployment = deployment } }
  }

  get(id: string): Deployment {
    return (this.entries.get(id) ?? notFound(id)).deployment
  }

  /** Oldest first (created in the same millisecond: in creation order, or by id after a restart). */
  list(): Deployment[] {
    return [...this.entries.values()].map((e) => e.deployment).sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  /** Whether deployment `id` targets the client (cancelled or not). */
  targetsClient(id: string, client: ClientPlace): boolean {
    const e = this.entries.get(id)
    return e !== undefined && targets(e, client)
  }

  /** Deployments that target the client, neither cancelled nor expired at `nowMs`. */
  offersFor(client: ClientPlace, nowMs: number): DeploymentOffer[] {
    const out: DeploymentOffer[] = []
    for (const e of this.entries.values()) {
      if (isLive(e, nowMs) && targets(e, client)) out.push(e.offer)
    }
    return out
  }

  /**
   * Keeps each report as the client's latest for its deployment, saving it only when more
   * than its time changed, and counts verification failures and program exits. Reports
   * of unknown deployments, or of ones that do not target the client, are ignored; byte
   * counters may grow by at most the package (`packageBytes`) per report.
   */
  report(from: ClientPlace & { subnet: string }, reports: readonly DeploymentReport[], ops: StoreOp[], packageBytes: (packageId: string) => number | undefined): void {
    for (const r of reports) {
      const entry = this.entries.get(r.id)
      if (entry === undefined) continue
      if (!targets(entry, from)) {
        this.metrics.ignoredReports.inc({ reason: 'not_targeted' })
        continue
      }
      const previous = entry.reports.get(from.peerId)
      const next: StoredReport = { ...r, bytes: plausibleBytes(r.bytes, previous?.bytes, packageBytes(entry.deployment.packageId), () => this.metrics.ignoredReports.inc({ reason: 'implausible_bytes' })), peerId: from.peerId, subnet: from.subnet, site: from.site ?? null }
      entry.reports.set(from.peerId, next)
      if (previous !== undefined && signatureOf(previous) === signatureOf(next)) continue
      ops.push({ type: 'put', kind: 'report', key: reportKey(r.id, from.peerId), value: next })
      const failures = r.verifyFailures - (previous?.verifyFailures ?? 0)
      if (failures > 0) this.metrics.verificationFailures.inc(failures)
      const exited = (x: DeploymentReport | undefined): boolean => x !== undefined && EXIT_STATES.has(x.state) && x.exitCode !== undefined
      if (exited(next) && !exited(previous)) this.metrics.programExits.inc({ code: next.exitCode === null ? 'signal' : String(next.exitCode) })
    }
  }

  /** Restores what the store held; reports of deployments no longer held are returned for deletion. */
  restore(kind: 'deployment' | 'report', key: string, value: unknown): StoreOp | undefined {
    if (kind === 'deployment') this.add(value as Deployment)
    else {
      const r = value as StoredReport
      const entry = this.entries.get(r.id)
      if (entry === undefined) return { type: 'del', kind: 'report', key }
      entry.reports.set(r.peerId, r)
    }
    return undefined
  }

  /** `nodeOf`: the client as the tracker knows it now (online, offline since…, its problem), shown beside its report. */
  status(id: string, sites: readonly SiteConfig[], dpUploadBytes: (subnet: string, packageId: string) => number, nodeOf: (peerId: string) => NodeSummary | undefined = () => undefined): DeploymentStatus {
    const entry = this.entries.get(id) ?? notFound(id)
    const bySubnet = groupBySubnet(entry.reports.values())
    const progress = (subnet: string): SubnetProgress => {
      const reports = (bySubnet.get(subnet) ?? []).sort((a, b) => a.peerId.localeCompare(b.peerId))
      const bytes = { lan: 0, wan: 0, reused: 0 }
      for (const r of reports) {
        bytes.lan += r.bytes.lan
        bytes.wan += r.bytes.wan
        bytes.reused += r.bytes.reused
      }
      const clients = reports.map(({ id: _id, subnet: _subnet, site: _site, ...client }): ClientProgress => {
        const node = nodeOf(client.peerId)
        return node === undefined ? client : { ...client, node }
      })
      return { subnet, counts: countStates(reports), bytes, dpUploadBytes: dpUploadBytes(subnet, entry.deployment.packageId), clients }
    }
    const targets = entry.targets
    const configured = new Set<string>()
    const siteList = []
    for (const s of sites) {
      const shown = s.subnets.filter((c) => {
        configured.add(c.text)
        return targets.sites.has(s.name) || bySubnet.has(c.text) || targets.subnets.some((t) => cidrsOverlap(t, c))
      })
      if (shown.length > 0) siteList.push({ name: s.name, subnets: shown.map((c) => progress(c.text)) })
    }
    const unassigned = [...bySubnet.keys()].filter((s) => !configured.has(s)).sort(bySubnetOrder).map(progress)
    return { deployment: entry.deployment, counts: countStates(entry.reports.values()), sites: siteList, unassigned }
  }

  /** subnet → the deployments clients of that subnet reported on, with their counts there. */
  countsBySubnet(): Map<string, Array<{ id: string, name: string, version: string, counts: StateCounts }>> {
    const out = new Map<string, Array<{ id: string, name: string, version: string, counts: StateCounts }>>()
    for (const e of this.entries.values()) {
      for (const [subnet, reports] of groupBySubnet(e.reports.values())) {
        const { id, name, version } = e.deployment
        out.set(subnet, [...(out.get(subnet) ?? []), { id, name, version, counts: countStates(reports) }])
      }
    }
    return out
  }

  /** Clients per deployment and state, for the gauge. */
  clientCounts(): Array<{ deployment: string, counts: StateCounts }> {
    return [...this.entries.values()].map((e) => ({ deployment: e.deployment.id, counts: countStates(e.reports.values()) }))
  }

  private add(deployment: Deployment): void {
    this.entries.set(deployment.id, {
      deployment,
      targets: targetSet(deployment.targets),
      offer: offerOf(deployment),
      expiresMs: deployment.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(deployment.expiresAt),
      reports: this.entries.get(deployment.id)?.reports ?? new Map(),
    })
  }
}

/** Whether the deployment targets the client: by id, site or subnet. */
function targets(e: Entry, client: ClientPlace): boolean {
  const t = e.targets
  return t.clients.has(client.peerId) || (client.site !== undefined && t.sites.has(client.site)) || t.subnets.some((c) => cidrContains(c, client.ip))
}

type Bytes = DeploymentReport['bytes']

/**
 * A report's byte counters, each grown by at most the package since the last report (a
 * client fetches a bad piece again, not the package many times over); the excess is cut.
 */
function plausibleBytes(next: Bytes, previous: Bytes | undefined, packageBytes: number | undefined, cut: () => void): Bytes {
  if (packageBytes === undefined) return { ...next }
  const out = { ...next }
  for (const k of ['lan', 'wan', 'reused'] as const) {
    const ceiling = (previous?.[k] ?? 0) + packageBytes
    if (out[k] > ceiling) out[k] = ceiling
  }
  if (out.lan !== next.lan || out.wan !== next.wan || out.reused !== next.reused) cut()
  return out
}

function groupBySubnet(reports: Iterable<StoredReport>): Map<string, StoredReport[]> {
  const out = new Map<string, StoredReport[]>()
  for (const r of reports) {
    const list = out.get(r.subnet)
    if (list === undefined) out.set(r.subnet, [r])
    else list.push(r)
  }
  return out
}

function countStates(reports: Iterable<StoredReport>): StateCounts {
  const counts: StateCounts = {}
  for (const r of reports) counts[r.state] = (counts[r.state] ?? 0) + 1
  return counts
}

/** Subnets in address order. */
function bySubnetOrder(a: string, b: string): number {
  return (parseCidr(a)?.network ?? 0) - (parseCidr(b)?.network ?? 0) || a.localeCompare(b)
}
