/**
 * What the tracker shows people (`/v1/status`, `/v1/throttle`, `/v1/packages/status`):
 * read-only views over its state, kept out of the Tracker so it holds policy only.
 */
import { Budgets, splitScope, type BudgetNow, type InForce, type LinkNow, type ScopeKey } from './budgets.ts'
import type { ByteTotalsTable } from './byte-totals.ts'
import type { TrackerConfig } from './config.ts'
import type { DeploymentTable } from './deployments.ts'
import type { LeaseTable } from './leases.ts'
import type { PackageCatalogue } from './packages.ts'
import { lastSeenOf, type Departure, type Registration, type Registry } from './registry.ts'
import type { ReplicaPlan } from './replication.ts'
import { MAX_STATUS_NODES_PER_SUBNET, type DpPackageStatus, type NodePresence, type NodeSummary, type PackageStatus } from './protocol/index.ts'

/** The tracker's state, as the views read it. */
export interface TrackerView {
  config: TrackerConfig
  budgets: Budgets
  registry: Registry
  leases: LeaseTable
  bytes: ByteTotalsTable
  deployments: DeploymentTable
  catalogue: PackageCatalogue
  plan: ReplicaPlan
  now: Date
}

export function budgetJson(b: BudgetNow): Record<string, unknown> {
  return { rateBytesPerSec: Budgets.json(b.rate), rule: b.rule, decidedBy: b.decidedBy, nextChangeAt: b.nextChangeAt?.toISOString() ?? null }
}

export function linkJson(l: LinkNow): Record<string, unknown> {
  return { rateBytesPerSec: Budgets.json(l.rate), rule: l.rule, nextChangeAt: l.nextChangeAt?.toISOString() ?? null }
}

function inForceJson(f: InForce): Record<string, unknown> {
  return {
    ...(f.site !== undefined && { site: f.site }),
    default: { rateBytesPerSec: Budgets.json(f.default.rate), from: f.default.from },
    maxWanClients: f.maxWanClients,
    windowsFrom: f.windowsFrom,
    widerWindows: f.widerWindows,
  }
}

/** A scope's config, override, effective rules (its own), what is in force there and who set it, and budget now. */
export function describeScope(v: TrackerView, scope: ScopeKey): Record<string, unknown> {
  v.budgets.checkScope(scope)
  const [kind, name] = splitScope(scope)
  const policy = v.budgets.policyOf(scope)
  const subnet = kind === 'subnet' ? name : v.config.sites.find((s) => s.name === name)?.subnets[0]?.text
  return {
    [kind]: name,
    override: v.budgets.override(scope) ?? null,
    effective: {
      timezone: policy.schedule.timeZone,
      default: policy.schedule.defaultRate === undefined ? null : Budgets.json(policy.schedule.defaultRate),
      windows: policy.schedule.windows.map((w) => w.text),
      maxWanClients: policy.maxWanClients ?? null,
    },
    inForce: inForceJson(v.budgets.inForce(scope)),
    ...(subnet !== undefined && { budgetNow: budgetJson(v.budgets.budgetOf(subnet, v.now)) }),
  }
}

function summaryOf(reg: Registration, presence: NodePresence, lastSeenAt: number): NodeSummary {
  return {
    peerId: reg.peerId, name: reg.name ?? null, role: reg.role, address: reg.ip, subnet: reg.subnet, site: reg.site ?? null,
    version: reg.version ?? null, presence, lastSeenAt: new Date(lastSeenAt).toISOString(), problem: reg.problem ?? null,
  }
}

/** A registered node: online, last seen at its last announce. */
function registeredSummary(v: Pick<TrackerView, 'config'>, reg: Registration): NodeSummary {
  return summaryOf(reg, 'online', lastSeenOf(reg, v.config.registrationSeconds))
}

/** A node the tracker remembers after it left: stopped, or fallen silent (offline). */
function departedSummary(d: Departure): NodeSummary {
  return summaryOf(d.reg, d.stopped ? 'stopped' : 'offline', d.lastSeenAt)
}

/** The node as `status` and `deploy show` list it: registered (online), or remembered as departed; undefined if neither. */
export function nodeSummary(v: Pick<TrackerView, 'config' | 'registry'>, peerId: string): NodeSummary | undefined {
  const reg = v.registry.get(peerId)
  if (reg !== undefined) return registeredSummary(v, reg)
  const gone = v.registry.departed(peerId)
  return gone && departedSummary(gone)
}

/** Every node registered or remembered, per subnet: those with a problem first, then offline, then stopped, then online; by name. */
function nodesBySubnet(v: TrackerView): Map<string, NodeSummary[]> {
  const out = new Map<string, NodeSummary[]>()
  const add = (n: NodeSummary): void => {
    const list = out.get(n.subnet)
    if (list === undefined) out.set(n.subnet, [n])
    else list.push(n)
  }
  for (const r of v.registry.all()) add(registeredSummary(v, r))
  for (const d of v.registry.departures()) add(departedSummary(d))
  const rank = (n: NodeSummary): number => (n.problem !== null && n.presence === 'online' ? 0 : n.presence === 'offline' ? 1 : n.presence === 'online' ? 2 : 3)
  for (const list of out.values()) list.sort((a, b) => rank(a) - rank(b) || (a.name ?? '').localeCompare(b.name ?? '') || a.peerId.localeCompare(b.peerId))
  return out
}

/** Per site (its parent and link now) and subnet: nodes, leases, budget now, bytes per package, deployments reported on. */
export function trackerStatus(v: TrackerView): Record<string, unknown> {
  const deployments = v.deployments.countsBySubnet()
  const nodes = new Map<string, { clients: number, dps: number }>()
  for (const r of v.registry.all()) {
    const n = nodes.get(r.subnet) ?? { clients: 0, dps: 0 }
    if (r.role === 'dp') n.dps++
    else n.clients++
    nodes.set(r.subnet, n)
  }
  const listed = nodesBySubnet(v)
  // Packages by NAME@VERSION where the tracker knows it: the catalogue's and the deployments'.
  const names = new Map<string, { name: string, version: string }>()
  for (const p of [...v.catalogue.list(), ...v.deployments.list().map((d) => ({ id: d.packageId, name: d.name, version: d.version }))]) names.set(p.id, { name: p.name, version: p.version })
  const leases = groupBy(v.leases.all(), (l) => l.subnet)
  const subnetStatus = (subnet: string): Record<string, unknown> => ({
    subnet,
    nodes: nodes.get(subnet) ?? { clients: 0, dps: 0 },
    // Named, with their version, presence and problem: at most MAX_STATUS_NODES_PER_SUBNET, the ones that need a look first.
    nodeList: (listed.get(subnet) ?? []).slice(0, MAX_STATUS_NODES_PER_SUBNET),
    nodesOmitted: Math.max(0, (listed.get(subnet)?.length ?? 0) - MAX_STATUS_NODES_PER_SUBNET),
    budget: budgetJson(v.budgets.budgetOf(subnet, v.now)),
    maxWanClients: v.budgets.maxWanClientsOf(subnet),
    leases: (leases.get(subnet) ?? []).map((l) => ({ peerId: l.peerId, packageId: l.packageId, expiresAt: new Date(l.expiresAt).toISOString() })),
    packages: [...v.bytes.of(subnet).entries()].map(([id, b]) => ({ packageId: id, name: names.get(id)?.name ?? null, version: names.get(id)?.version ?? null, lanBytes: b.lan, wanBytes: b.wan, reusedBytes: b.reused, dpUploadBytes: b.dpUpload })),
    deployments: deployments.get(subnet) ?? [],
  })
  const configured = new Set(v.budgets.configuredSubnets)
  const others = new Set([...listed.keys(), ...v.bytes.subnets(), ...deployments.keys()].filter((s) => !configured.has(s)))
  return {
    time: v.now.toISOString(),
    budgetVersion: v.budgets.version,
    sites: v.config.sites.map((s) => {
      const link = v.budgets.linkOf(s.name, v.now)
      return { name: s.name, timezone: s.timeZone, parent: s.parent ?? null, link: link === undefined ? null : linkJson(link), subnets: s.subnets.map((c) => subnetStatus(c.text)) }
    }),
    unassigned: [...others].sort().map(subnetStatus),
  }
}

/** One DP's row for a package of `bytes` bytes: its report, or `missing`. */
function dpRow(dp: Registration, packageId: string, bytes: number): DpPackageStatus {
  const base = { peerId: dp.peerId, subnet: dp.subnet }
  const held = dp.packages[packageId]
  if (held === undefined) return { ...base, state: 'missing', presentBytes: 0, totalBytes: bytes, copiedAt: null, reason: null, origin: null }
  const r = held.replica
  // A DP that sends no replica report (older than replication): judged by its pieces.
  if (r === undefined) return { ...base, state: held.have >= held.pieces ? 'seeding' : 'replicating', presentBytes: Math.round(bytes * held.have / held.pieces), totalBytes: bytes, copiedAt: null, reason: null, origin: null }
  return { ...base, state: r.state, presentBytes: r.presentBytes, totalBytes: r.totalBytes > 0 ? r.totalBytes : bytes, copiedAt: r.copiedAt ?? null, reason: r.reason ?? null, origin: r.origin }
}

/**
 * Every catalogue package, and every package a DP reports a replica of without it being
 * listed; per site that must hold it or where a DP has it; per DP of such a site its
 * state, `missing` when the site must hold it and the DP does not report it.
 */
export function packageStatus(v: TrackerView): PackageStatus {
  const dpsBySite = groupBy([...v.registry.dps()].filter((dp) => dp.site !== undefined), (dp) => dp.site!)
  const unlisted = new Map<string, number>()
  for (const dp of v.registry.dps()) {
    for (const [id, p] of Object.entries(dp.packages)) {
      if (p.replica !== undefined && !v.catalogue.has(id)) unlisted.set(id, Math.max(unlisted.get(id) ?? 0, p.replica.totalBytes))
    }
  }
  for (const dps of dpsBySite.values()) dps.sort((a, b) => a.subnet.localeCompare(b.subnet) || a.peerId.localeCompare(b.peerId))
  // A package seen only in DPs' reports: its name is not known here (the manifest may not be either).
  const packages = [
    ...v.catalogue.list().map((p) => ({ id: p.id, name: p.name, version: p.version, bytes: p.bytes, listed: true })),
    ...[...unlisted].sort(([a], [b]) => a.localeCompare(b)).map(([id, bytes]) => ({ id, name: '', version: '', bytes, listed: false })),
  ]
  return {
    time: v.now.toISOString(),
    packages: packages.map((p) => ({
      ...p,
      sites: v.config.sites.flatMap((s) => {
        const required = p.listed && v.plan.requires(s.name, p.id)
        const dps = dpsBySite.get(s.name) ?? []
        const shown = required ? dps : dps.filter((d) => d.packages[p.id] !== undefined && (p.listed || d.packages[p.id]!.replica !== undefined))
        if (!required && shown.length === 0) return []
        return [{ site: s.name, parent: s.parent ?? null, required, dps: shown.map((d) => dpRow(d, p.id, p.bytes)) }]
      }),
    })),
  }
}

function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const item of items) {
    const list = out.get(key(item))
    if (list === undefined) out.set(key(item), [item])
    else list.push(item)
  }
  return out
}

/** DP × package rows per site and state, for the gauge. */
export function dpPackageCounts(status: PackageStatus): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>()
  for (const p of status.packages) {
    for (const s of p.sites) {
      let m = out.get(s.site)
      if (m === undefined) out.set(s.site, m = new Map())
      for (const d of s.dps) m.set(d.state, (m.get(d.state) ?? 0) + 1)
    }
  }
  return out
}
