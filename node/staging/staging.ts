import { existsSync } from 'node:fs'
import { chmod, readlink, symlink, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { parseManifest, verifyDirectory, type SignedManifest, type VerifyReport } from '../../chunker/index.ts'
import { PeerstageError } from '../../common/index.ts'
import { NodeErrorCodes } from '../errors.ts'
import type { TrackerClient } from '../../tracker/protocol/index.ts'
import { piecesHolding, type Store, type StoredManifest, type StoredPackage } from '../store/index.ts'
import type { PackageSwarm } from '../swarm.ts'
import { appliesFileModes, linkPointsAt, localPath, packageLink } from '../platform.ts'

/**
 * The steps every node that pre-stages a package takes (a client for a deployment, a DP
 * replicating): get a manifest it can trust, download into `staging/ID`, verify from
 * disk, and move it whole to `packages/ID`. A package is its id: two manifests that share
 * a name and version never share a directory. `packages/NAME@VERSION` is a readable link
 * to the first id materialized under that name, never repointed.
 */

/** The manifest of `packageId`: from the store when held, else from the tracker. */
export async function trustedManifest(store: Store, tracker: TrackerClient, packageId: string, trusted: readonly string[] | undefined): Promise<{ signed: SignedManifest, stored: StoredPackage | undefined }> {
  const stored = await store.getPackage(packageId)
  const text = (stored === undefined ? undefined : await store.manifestText(packageId)) ?? await tracker.manifest(packageId)
  const signed = parseManifest(text, trusted === undefined ? {} : { trusted })
  if (signed.packageId !== packageId) {
    throw new PeerstageError(NodeErrorCodes.MANIFEST_MISMATCH, `the tracker's manifest hashes to ${signed.packageId}, not the requested ${packageId}`)
  }
  return { signed, stored }
}

/** `NAME@VERSION` when that is a safe file name (for the readable link), else undefined. */
export function linkName(signed: StoredManifest): string | undefined {
  const name = `${signed.manifest.name}@${signed.manifest.version}`
  return /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/.test(name) ? name : undefined
}

/** Where a package downloads: the stored root when resuming, else DATA/staging/ID. */
export function stagingRoot(dataDir: string, signed: SignedManifest, stored: StoredPackage | undefined): string {
  return stored?.root ?? join(dataDir, 'staging', signed.packageId)
}

/**
 * Threads that re-read a staged package: none, the node's own thread does it. One hashes as
 * fast as a disk reads with SHA instructions (1 GiB in 1.4–1.8 s here, as with two); a
 * worker thread cost ~100 ms to start (a fetch of 4 MB took 0.12 s to verify, now ~0.01 s)
 * and ~34 MB of RSS (a V8 isolate).
 */
export const ON_DISK_VERIFY_THREADS = 0

/** Re-reads every chunk of a package from disk: the report, and the pieces holding what is bad or missing. */
export async function checkOnDisk(pkg: StoredPackage): Promise<{ report: VerifyReport, badPieces: number[] }> {
  const report = await verifyDirectory(pkg.manifest, pkg.root, { threads: ON_DISK_VERIFY_THREADS })
  if (report.ok) return { report, badPieces: [] }
  return { report, badPieces: piecesHolding(pkg.manifest, report.files.flatMap((f) => f.badChunks.map((c) => c.index)), report.files.filter((f) => f.status === 'missing').map((f) => f.path)) }
}

/**
 * Re-reads every chunk from disk. Bad pieces (and those of missing files) are marked
 * missing and asked of the peers again; returns how many there were (0: verified).
 */
export async function verifyOnDisk(swarm: PackageSwarm): Promise<number> {
  const { report, badPieces } = await checkOnDisk(swarm.pkg)
  if (report.ok) return 0
  await swarm.pkg.markMissing(badPieces)
  swarm.recheck()
  return badPieces.length
}

/**
 * Moves a verified package to DATA/packages/ID (one rename) with the manifest's file modes,
 * and links DATA/packages/NAME@VERSION to it unless that name already names another id.
 */
export async function materialize(pkg: StoredPackage, dataDir: string): Promise<string> {
  const target = join(dataDir, 'packages', pkg.packageId)
  if (pkg.root !== target) await pkg.moveTo(target)
  if (appliesFileModes()) await Promise.all(pkg.manifest.files.map((f) => (f.mode & 0o777) === 0 ? undefined : chmod(localPath(target, f.path), f.mode & 0o7777)))
  const name = linkName(pkg.signed)
  if (name !== undefined) await linkOnce(join(dataDir, 'packages', name), pkg.packageId)
  return target
}

/** A link at `path` to `id` (node/platform.ts: a relative symlink, a junction on Windows), made only where none stands (a dangling one is replaced). */
async function linkOnce(path: string, id: string): Promise<void> {
  const current = await readlink(path).catch(() => undefined)
  if (current !== undefined && linkPointsAt(current, path, id)) return
  if (current !== undefined) {
    if (existsSync(resolve(dirname(path), current))) return // the name is another package's: never repointed
    await unlink(path)
  }
  const link = packageLink(path, id)
  await symlink(link.target, path, link.type).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err })
}
