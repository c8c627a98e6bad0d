import type { SignedManifest } from '../chunker/index.ts'
import { TrackerErrorCodes, trackerError } from './protocol/index.ts'
import type { StoreOp } from './store/index.ts'

/**
 * Canonical signed manifests by package id, stored once (store kind `manifest`) for the
 * catalogue and every deployment: nodes fetch them by id and hash them to check the id.
 * Whoever drops the last reference to one deletes it. Changes come as ops to write first,
 * then apply.
 */
export class ManifestTable {
  private readonly texts = new Map<string, string>()

  /** The op that saves the manifest, when it is new here; `keep` it once written. */
  putOps(signed: SignedManifest): StoreOp[] {
    return this.texts.has(signed.packageId) ? [] : [{ type: 'put', kind: 'manifest', key: signed.packageId, value: signed.canonical }]
  }

  keep(signed: SignedManifest): void {
    this.texts.set(signed.packageId, signed.canonical)
  }

  has(packageId: string): boolean {
    return this.texts.has(packageId)
  }

  get(packageId: string): string {
    const text = this.texts.get(packageId)
    if (text === undefined) throw trackerError(TrackerErrorCodes.NOT_FOUND, `no manifest of package ${packageId} on this tracker: neither the catalogue nor a deployment names it`)
    return text
  }

  ids(): string[] {
    return [...this.texts.keys()]
  }

  delete(packageId: string): void {
    this.texts.delete(packageId)
  }

  restore(packageId: string, text: unknown): void {
    this.texts.set(packageId, text as string)
  }
}
