import { totalBytes } from '../../chunker/index.ts'
import { formatBytes, isPeerstageError, isTransient } from '../../common/index.ts'
import type { TrackerClient } from '../../tracker/protocol/index.ts'
import type { PeerNode } from '../peer-node.ts'
import { StoreErrorCodes } from '../store/index.ts'
import type { PackageSwarm } from '../swarm.ts'
import { freeBytes } from './disk.ts'
import { materialize, stagingRoot, trustedManifest, verifyOnDisk } from './staging.ts'

/** How a package's pre-staging began. */
export type StageStart =
  | { kind: 'fetching', swarm: PackageSwarm }
  /** The manifest cannot be had now (the tracker down or failing): try again later. */
  | { kind: 'transient', reason: string, retryAt: number }
  /** The package itself is refused (untrusted, malformed, not the id asked for): retrying will not help. */
  | { kind: 'refused', reason: string }
  | { kind: 'no-space', reason: string, retryAt: number, pieces: number }

/** How a whole package's check from disk ended. */
export type StageEnd =
  | { kind: 'done', target: string }
  /** Pieces failed on disk: they are asked of the peers again. */
  | { kind: 'repairing', badPieces: number, reason: string }

export interface StagerInit {
  node: PeerNode
  /** Where manifests come from when the store has none. */
  tracker: TrackerClient
  /** staging/ and packages/ go under it. */
  dataDir: string
  /** Publishers accepted; undefined: any validly signed manifest. */
  trusted?: readonly string[]
  /** Frees room for `needBytes` more; resolves whether they fit now. @default checks the free space only */
  makeRoom?: (needBytes: number, packageId: string) => Promise<boolean>
  /** Wall clock, ms, for retry times. @default Date.now */
  now?: () => number
  /** A failure that may pass (disk space, the tracker) is tried again this long after, ms. @default 60000 */
  retryMs?: number
}

/**
 * The pre-staging steps a client (for a deployment) and a replicating DP share: a trusted
 * manifest, room on disk, the download into `staging/ID` reusing every chunk already here,
 * then verification from disk (bad pieces fetched again) and one rename into `packages/ID`.
 * Each step returns what happened; the roles decide what it means for their records.
 */
export class Stager {
  private readonly init: StagerInit

  constructor(init: StagerInit) {
    this.init = init
  }

  /** Gets the manifest, makes room, and starts fetching (or resumes). */
  async begin(packageId: string): Promise<StageStart> {
    const { node, dataDir } = this.init
    let got: Awaited<ReturnType<typeof trustedManifest>>
    try {
      got = await trustedManifest(node.store, this.init.tracker, packageId, this.init.trusted)
    } catch (err) {
      const message = (err as Error).message
      return isTransient(err) ? { kind: 'transient', reason: `cannot get the manifest yet: ${message}`, retryAt: this.now() } : { kind: 'refused', reason: `package refused: ${message}` }
    }
    const { signed, stored } = got
    const need = totalBytes(signed.manifest) - (stored?.presentBytes ?? 0)
    const fits = this.init.makeRoom === undefined ? need <= await freeBytes(dataDir) : await this.init.makeRoom(need, packageId)
    if (!fits) {
      const free = await freeBytes(dataDir)
      return { kind: 'no-space', reason: `not enough disk space: needs ${formatBytes(need)} in ${dataDir}, ${formatBytes(free)} free`, retryAt: this.retryAt(), pieces: signed.manifest.pieces.length }
    }
    return { kind: 'fetching', swarm: await node.want(signed, stagingRoot(dataDir, signed, stored), { reuse: true }) }
  }

  /**
   * Re-reads every chunk of a complete package from disk; bad pieces go back to the swarm.
   * Returns how many there were (0: verified).
   */
  verify(swarm: PackageSwarm): Promise<number> {
    return verifyOnDisk(swarm)
  }

  /** Verifies a complete package from disk, then moves it under packages/. */
  async finish(swarm: PackageSwarm): Promise<StageEnd> {
    const bad = await this.verify(swarm)
    if (bad > 0) return { kind: 'repairing', badPieces: bad, reason: `${bad} piece(s) failed verification on disk; fetching them again` }
    return { kind: 'done', target: await materialize(swarm.pkg, this.init.dataDir) }
  }

  /** When to try again after a swarm's error: a full disk may pass; anything else waits for an operator. */
  retryAfter(err: Error): number | undefined {
    return isPeerstageError(err, StoreErrorCodes.DISK_FULL) ? this.retryAt() : undefined
  }

  private retryAt(): number {
    return this.now() + (this.init.retryMs ?? 60_000)
  }

  private now(): number {
    return (this.init.now ?? Date.now)()
  }
}
