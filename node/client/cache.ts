import { totalBytes } from '../../chunker/index.ts'
import type { Logger } from '../../common/index.ts'
import type { PeerNode } from '../peer-node.ts'
import type { Store } from '../store/index.ts'
import { forgetPackage, lastUsed } from './records.ts'

/** Size of the packages this node downloaded (not those served in place). */
export async function packagesBytes(store: Store): Promise<number> {
  let total = 0
  for (const id of await store.packageIds()) {
    const pkg = await store.getPackage(id)
    if (pkg !== undefined && !pkg.readOnly) total += totalBytes(pkg.manifest)
  }
  return total
}

/**
 * Deletes least-recently-used packages, never one in `protect` (needed by a pending
 * deployment), until `bytes` are freed or nothing is left to evict. Returns the bytes freed.
 */
export async function evictFor(node: PeerNode, bytes: number, protect: ReadonlySet<string>, log: Logger): Promise<number> {
  const used = await lastUsed(node.store)
  const candidates: Array<{ id: string, size: number, usedAt: number, name: string }> = []
  for (const id of await node.store.packageIds()) {
    const pkg = await node.store.getPackage(id)
    if (pkg === undefined || pkg.readOnly || protect.has(id)) continue
    candidates.push({ id, size: totalBytes(pkg.manifest), usedAt: used.get(id) ?? 0, name: `${pkg.manifest.name}@${pkg.manifest.version}` })
  }
  candidates.sort((a, b) => a.usedAt - b.usedAt)
  let freed = 0
  for (const c of candidates) {
    if (freed >= bytes) break
    log.info({ package: c.name, bytes: c.size }, 'evicting least recently used package')
    await node.drop(c.id)
    await forgetPackage(node.store, c.id)
    freed += c.size
  }
  return freed
}
