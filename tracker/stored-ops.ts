import type { Budgets, OverrideSpec } from './budgets.ts'
import type { ByteTotalsTable } from './byte-totals.ts'
import type { DeploymentTable } from './deployments.ts'
import { leaseKey, parseLeaseKey, type Lease, type LeaseTable } from './leases.ts'
import type { ManifestTable } from './manifests.ts'
import type { PackageCatalogue } from './packages.ts'
import type { Registration, Registry } from './registry.ts'
import type { StoreKind, StoreOp } from './store/index.ts'

/** The tables a stored record lands in, and what to tell when one changes. */
export interface StoredTables {
  registry: Registry
  leases: LeaseTable
  budgets: Budgets
  bytes: ByteTotalsTable
  manifests: ManifestTable
  deployments: DeploymentTable
  catalogue: PackageCatalogue
  /** A deployment was created or cancelled: its clients' long-polls are answered. */
  deploymentChanged: (id: string) => void
  /** The catalogue changed: the replica plan is rebuilt. */
  catalogueChanged: () => void
  /** A lease was handed back: clients refused one in its slot are told. */
  leaseFreed: (subnet: string, packageId: string) => void
}

/**
 * Puts one op another replica wrote in force here, as if this replica had made the change
 * (that one checked the rules). Deployments and reports are never deleted.
 */
export function applyStoredOp(t: StoredTables, op: StoreOp): void {
  const put = op.type === 'put'
  switch (op.kind) {
    case 'registration': {
      const before = t.registry.get(op.key)
      if (put) t.registry.put(op.value as Registration)
      else if (t.registry.remove(op.key) !== undefined && before !== undefined) t.registry.depart(before, before.seenAt ?? before.expiresAt, false) // left through another replica: shown offline here too
      // DPs long-poll the budget list, which names the DPs.
      if (before?.role === 'dp' || (put && (op.value as Registration).role === 'dp' && before === undefined)) t.budgets.bump()
      break
    }
    case 'lease': {
      if (put) t.leases.put(op.value as Lease)
      else {
        const { subnet, packageId, peerId } = parseLeaseKey(op.key)
        if (t.leases.release(subnet, packageId, peerId) !== undefined) t.leaseFreed(subnet, packageId)
      }
      break
    }
    case 'override':
      try {
        t.budgets.applyOverride(op.key, put ? op.value as OverrideSpec : undefined)
      } catch {
        // a scope this replica's config does not have: the configs differ, the other replica's log says so
      }
      break
    case 'bytes':
      if (op.type === 'add') t.bytes.add(op.key, op.value)
      else if (put) t.bytes.restore(op.key, op.value)
      else t.bytes.forget(op.key)
      break
    case 'manifest':
      if (put) t.manifests.restore(op.key, op.value)
      else t.manifests.delete(op.key)
      break
    case 'deployment':
      if (put) {
        t.deployments.restore('deployment', op.key, op.value)
        t.deploymentChanged(op.key)
      }
      break
    case 'report':
      if (put) t.deployments.restore('report', op.key, op.value)
      break
    case 'package':
      if (put) t.catalogue.restore(op.key, op.value)
      else t.catalogue.forget(op.key)
      t.catalogueChanged()
      break
  }
}

/** Keys of a kind these tables hold that a store may delete (deployments and reports it never does). */
export function storedKeys(t: StoredTables, kind: StoreKind): string[] {
  switch (kind) {
    case 'registration': return [...t.registry.all()].map((r) => r.peerId)
    case 'lease': return t.leases.all().map(leaseKey)
    case 'override': return t.budgets.overrideScopes()
    case 'bytes': return t.bytes.keys()
    case 'manifest': return t.manifests.ids()
    case 'package': return t.catalogue.list().map((p) => p.id)
    case 'deployment':
    case 'report': return []
  }
}
