import { totalBytes, type SignedManifest } from '../chunker/index.ts'
import { TrackerErrorCodes, trackerError, type CataloguePackage, type Deployment } from './protocol/index.ts'
import type { ManifestTable } from './manifests.ts'
import type { Change, StoreOp } from './store/index.ts'

/**
 * The catalogue: the packages DPs replicate to the sites whose `replicate` globs match
 * them (and to the sites above those, which relay). Each entry's manifest lives in the
 * shared ManifestTable. Pure state: the methods that change something return the store
 * ops and an `apply`, which the tracker calls once its batch is written.
 */
export class PackageCatalogue {
  private readonly entries = new Map<string, CataloguePackage>()
  private readonly manifests: ManifestTable

  constructor(manifests: ManifestTable) {
    this.manifests = manifests
  }

  /** Lists a (trusted, already checked) package; `created` false when it was listed already. */
  add(signed: SignedManifest, now: Date): { entry: CataloguePackage, created: boolean } & Change {
    const existing = this.entries.get(signed.packageId)
    if (existing !== undefined) return { entry: existing, created: false, ops: [], apply: () => {} }
    const { manifest } = signed
    const entry: CataloguePackage = { id: signed.packageId, name: manifest.name, version: manifest.version, publisher: manifest.publisher, bytes: totalBytes(manifest), addedAt: now.toISOString() }
    const ops: StoreOp[] = [...this.manifests.putOps(signed), { type: 'put', kind: 'package', key: entry.id, value: entry }]
    return {
      entry, created: true, ops,
      apply: () => {
        this.manifests.keep(signed)
        this.entries.set(entry.id, entry)
      },
    }
  }

  /**
   * Unlists a package, refused (PACKAGE_IN_USE) while an active deployment names it. Its
   * manifest goes too unless a deployment (cancelled or expired ones included) still names it.
   */
  remove(id: string, users: { active: readonly Deployment[], any: boolean }): { entry: CataloguePackage } & Change {
    const entry = this.get(id)
    if (users.active.length > 0) {
      const ids = users.active.map((d) => d.id).join(', ')
      throw trackerError(TrackerErrorCodes.PACKAGE_IN_USE, `package ${entry.name}@${entry.version} (${id}) is named by deployment${users.active.length === 1 ? '' : 's'} ${ids}, neither cancelled nor expired: cancel ${users.active.length === 1 ? 'it' : 'them'} first (peerstage deploy cancel ID)`, { details: { deployments: users.active.map((d) => d.id) } })
    }
    const ops: StoreOp[] = [{ type: 'del', kind: 'package', key: id }]
    if (!users.any) ops.push({ type: 'del', kind: 'manifest', key: id })
    return {
      entry, ops,
      apply: () => {
        this.entries.delete(id)
        if (!users.any) this.manifests.delete(id)
      },
    }
  }

  get(id: string): CataloguePackage {
    const entry = this.entries.get(id)
    if (entry === undefined) throw trackerError(TrackerErrorCodes.NOT_FOUND, `no package ${id} in the catalogue (peerstage package list shows them)`)
    return entry
  }

  has(id: string): boolean {
    return this.entries.has(id)
  }

  /** Oldest first (added in the same millisecond: in the order added, or by id after a restart). */
  list(): CataloguePackage[] {
    return [...this.entries.values()].sort((a, b) => a.addedAt.localeCompare(b.addedAt))
  }

  restore(key: string, value: unknown): void {
    this.entries.set(key, value as CataloguePackage)
  }

  /** Unlists it as another replica did (that replica checked the rules). */
  forget(id: string): void {
    this.entries.delete(id)
  }
}
