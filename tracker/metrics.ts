import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { UNLIMITED, type Rate } from '../bandwidth/index.ts'
import type { StateCounts } from './protocol/index.ts'

/**
 * What the scrape-time gauges read, when scraped: the Tracker implements it. An interface
 * and not the Tracker itself, so this file imports nothing of the tracker's (the Tracker,
 * its tables and its views all import the metrics).
 */
export interface TrackerMetricsSource {
  /** Nodes with a live registration, by role. */
  registeredByRole(): { client: number, dp: number }
  /** Leases active, by subnet. */
  leasesBySubnet(): Map<string, number>
  /** Each configured subnet and its WAN budget now (UNLIMITED: none). */
  subnetRates(): Iterable<[string, Rate]>
  /** Clients per deployment and state, from their latest reports. */
  deploymentClientCounts(): Array<{ deployment: string, counts: StateCounts }>
  /** Deployments neither cancelled nor expired now. */
  liveDeployments(): Iterable<{ id: string, mandatoryAt: string }>
  /** Site → replica state (or `missing`) → DP × package pairs. */
  dpPackageCounts(): Map<string, Map<string, number>>
}

/** The tracker's metrics, in their own registry; gauges read the source (the tracker) when scraped. */
export function createTrackerMetrics(registry: Registry = new Registry()) {
  let tracker: TrackerMetricsSource | undefined
  return {
    registry,
    announces: new Counter({ name: 'peerstage_tracker_announces_total', help: 'Announces handled, by node role', labelNames: ['role'] as const, registers: [registry] }),
    announceSeconds: new Histogram({ name: 'peerstage_tracker_announce_duration_seconds', help: 'Time to handle one announce, store write included', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5], registers: [registry] }),
    reportedBytes: new Counter({ name: 'peerstage_tracker_reported_bytes_total', help: 'Package bytes nodes reported, by subnet and source (lan, wan, reused: received by clients; dpUpload: sent by DPs to the subnet)', labelNames: ['subnet', 'source'] as const, registers: [registry] }),
    registered: new Gauge({ name: 'peerstage_tracker_registered_nodes', help: 'Nodes with a live registration, by role', labelNames: ['role'] as const, registers: [registry], collect() {
      if (tracker === undefined) return
      const n = tracker.registeredByRole()
      this.set({ role: 'client' }, n.client)
      this.set({ role: 'dp' }, n.dp)
    } }),
    leases: new Gauge({ name: 'peerstage_tracker_leases_active', help: 'WAN leases held, by subnet', labelNames: ['subnet'] as const, registers: [registry], collect() {
      if (tracker === undefined) return
      this.reset()
      for (const [subnet, n] of tracker.leasesBySubnet()) this.set({ subnet }, n)
    } }),
    budget: new Gauge({ name: 'peerstage_tracker_subnet_budget_bytes_per_second', help: 'WAN budget of each configured subnet now (+Inf: unlimited)', labelNames: ['subnet'] as const, registers: [registry], collect() {
      if (tracker === undefined) return
      for (const [subnet, rate] of tracker.subnetRates()) this.set({ subnet }, rate === UNLIMITED ? Number.POSITIVE_INFINITY : rate)
    } }),
    deploymentClients: new Gauge({ name: 'peerstage_tracker_deployment_clients', help: 'Clients per deployment and state, from their latest reports', labelNames: ['deployment', 'state'] as const, registers: [registry], collect() {
      if (tracker === undefined) return
      this.reset()
      for (const { deployment, counts } of tracker.deploymentClientCounts()) {
        for (const [state, n] of Object.entries(counts)) this.set({ deployment, state }, n)
      }
    } }),
    deploymentMandatory: new Gauge({ name: 'peerstage_tracker_deployment_mandatory_timestamp_seconds', help: 'When each deployment neither cancelled nor expired runs its program (mandatoryAt), Unix seconds: alerts compare it with time()', labelNames: ['deployment'] as const, registers: [registry], collect() {
      if (tracker === undefined) return
      this.reset()
      for (const d of tracker.liveDeployments()) this.set({ deployment: d.id }, Date.parse(d.mandatoryAt) / 1000)
    } }),
    dpPackages: new Gauge({ name: 'peerstage_tracker_dp_packages', help: 'DP × package pairs per site and replica state (missing: the site must hold it and the DP does not report it)', labelNames: ['site', 'state'] as const, registers: [registry], collect() {
      if (tracker === undefined) return
      this.reset()
      for (const [site, states] of tracker.dpPackageCounts()) for (const [state, n] of states) this.set({ site, state }, n)
    } }),
    verificationFailures: new Counter({ name: 'peerstage_tracker_verification_failures_total', help: 'Checks of a package on a client\'s disk that found bad chunks, as clients reported them', registers: [registry] }),
    ignoredReports: new Counter({ name: 'peerstage_tracker_ignored_reports_total', help: 'Deployment reports (or their byte counts) not counted: not_targeted, a deployment that does not target the reporter; implausible_bytes, counters that grew by more than the package in one report', labelNames: ['reason'] as const, registers: [registry] }),
    programExits: new Counter({ name: 'peerstage_tracker_program_exits_total', help: 'Deployment programs that ran to an end, by exit code (signal: killed)', labelNames: ['code'] as const, registers: [registry] }),
    /** Binds the scrape-time gauges to a tracker. */
    observe(t: TrackerMetricsSource): void {
      tracker = t
    },
  }
}

export type TrackerMetrics = ReturnType<typeof createTrackerMetrics>
