import { formatBytes, isPeerstageError, PeerstageError } from '../common/index.ts'
import { LAN_TIERS, type AnnounceAnswer } from '../tracker/protocol/index.ts'
import { NodeErrorCodes } from './errors.ts'
import { dialPeer } from './host.ts'
import type { PeerNode } from './peer-node.ts'
import { checkOnDisk } from './staging/index.ts'
import type { PackageSwarm } from './swarm.ts'
import type { Announcer } from './tracker/index.ts'

/**
 * The parts of `peerstage fetch` that decide when it has failed: no peer reachable, no data
 * for too long (and why), and files that still do not verify after their bad pieces were
 * fetched again.
 */

/** Seconds a fetch waits with no block arriving before it gives up, naming why. */
export const FETCH_STALL_SECONDS = 60

/** Times a fetch marks the pieces it finds bad on disk missing and fetches them again. */
export const REPAIR_ROUNDS = 3

/** How long the diagnosis dials of a stalled fetch may take. */
const PROBE_MS = 5000

type HandedOut = AnnounceAnswer['packages'][number]

/**
 * Watches a download for stalls: the wait for completion fails once no block has arrived
 * for `stallMs`, with the best reason it finds: the tracker not answering, no peer handed
 * out, no WAN lease, peers that joined and sent nothing, or why the peers handed out
 * cannot be joined (a wrong swarm key above all). For that last one it dials them itself,
 * once, when it gives up: the agent retries its dials quietly, and a dial now says what is
 * true now. `--peer` fetches also fail when every peer has gone.
 */
export class StallWatch {
  private readonly swarm: PackageSwarm
  private readonly node: PeerNode
  private readonly stallMs: number
  private trackerFailure: Error | undefined
  private handedOut: HandedOut | undefined
  private answered = false

  constructor(node: PeerNode, swarm: PackageSwarm, stallMs: number, agent?: Announcer) {
    this.node = node
    this.swarm = swarm
    this.stallMs = stallMs
    agent?.on('warning', (err) => { this.trackerFailure = err }) // an announce failed
    agent?.on('answer', (a) => {
      this.answered = true
      this.trackerFailure = undefined
      this.handedOut = a.packages.find((p) => p.id === swarm.pkg.packageId)
    })
  }

  /** Resolves once the package is complete; rejects on a write error, a stall, or (`untilPeersGone`) when every peer left. */
  untilComplete(options: { untilPeersGone?: boolean } = {}): Promise<void> {
    const { swarm } = this
    if (swarm.pkg.complete) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const done = (err?: Error): void => {
        clearTimeout(timer)
        swarm.off('complete', onComplete)
        swarm.off('error', done)
        swarm.off('download', arm)
        swarm.off('peers', onPeers)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onComplete = (): void => done()
      const arm = (): void => {
        clearTimeout(timer)
        timer = setTimeout(() => void this.why().then(done, done), this.stallMs)
      }
      const onPeers = (n: number): void => {
        if (n === 0 && options.untilPeersGone === true && !swarm.pkg.complete) done(new PeerstageError(NodeErrorCodes.DIAL_FAILED, `every peer went away at ${formatBytes(swarm.pkg.presentBytes)} of ${formatBytes(totalOf(swarm))}; run again to resume`))
      }
      swarm.on('complete', onComplete)
      swarm.on('error', done)
      swarm.on('download', arm)
      swarm.on('peers', onPeers)
      arm()
    })
  }

  /** One sentence on why nothing arrived, with the code callers decide by. */
  private async why(): Promise<PeerstageError> {
    const pkg = this.swarm.pkg
    const seconds = Math.round(this.stallMs / 1000)
    const head = `nothing of ${pkg.manifest.name}@${pkg.manifest.version} arrived in ${seconds} s (${formatBytes(pkg.presentBytes)} of ${formatBytes(totalOf(this.swarm))} here; run again to resume)`
    const peers = this.swarm.peerCount
    const handed = this.handedOut?.peers ?? []
    const noLease = this.handedOut !== undefined && this.handedOut.lease === null && handed.length > 0 && handed.every((p) => !LAN_TIERS.has(p.tier))
    if (peers === 0 && this.trackerFailure !== undefined) {
      const code = isPeerstageError(this.trackerFailure) ? this.trackerFailure.code : NodeErrorCodes.NO_PEER
      return new PeerstageError(code, `${head}: the tracker did not answer: ${this.trackerFailure.message}`, { cause: this.trackerFailure })
    }
    // A peer that cannot be joined is named first: with another swarm key, a lease would not help.
    const failure = peers === 0 ? await this.dialFailure(handed.flatMap((p) => p.addresses.map((a) => a.includes('/p2p/') ? a : `${a}/p2p/${p.peerId}`))) : undefined
    if (failure !== undefined) return new PeerstageError(failure.code, `${head}: no peer could be joined: ${failure.message}`, { cause: failure })
    if (noLease) return new PeerstageError(NodeErrorCodes.NO_PEER, `${head}: only DPs across the WAN hold it and the tracker granted no WAN lease (the site's window is closed, or other clients of this subnet hold the leases)`)
    if (peers > 0) return new PeerstageError(NodeErrorCodes.NO_PEER, `${head}: ${peers} peer${peers === 1 ? '' : 's'} joined but sent nothing`)
    if (this.answered && handed.length === 0) return new PeerstageError(NodeErrorCodes.NO_PEER, `${head}: the tracker handed out no peer holding it (is a DP publishing it registered?)`)
    return new PeerstageError(NodeErrorCodes.NO_PEER, `${head}: the tracker handed out ${handed.length} peer${handed.length === 1 ? '' : 's'} but none joined`)
  }

  /** Dials each address once; the failure to name: a wrong swarm key over any other. */
  private async dialFailure(addresses: string[]): Promise<PeerstageError | undefined> {
    const failures = await Promise.all(addresses.map(async (a) => {
      try {
        await dialPeer(this.node.host, a, { signal: AbortSignal.timeout(PROBE_MS) })
        return undefined
      } catch (err) {
        return isPeerstageError(err) ? err : undefined
      }
    }))
    return failures.find((f) => f?.code === NodeErrorCodes.SWARM_KEY_MISMATCH) ?? failures.find((f) => f !== undefined)
  }
}

function totalOf(swarm: PackageSwarm): number {
  return swarm.pkg.manifest.pieces.reduce((n, p) => n + p.length, 0)
}

/**
 * Re-reads every chunk of a complete package from disk; pieces found bad are marked missing
 * and fetched again (`untilComplete`), up to REPAIR_ROUNDS times. Returns the pieces
 * repaired; throws VERIFY_FAILED naming the files when they still do not verify.
 */
export async function verifyWithRepair(swarm: PackageSwarm, untilComplete: () => Promise<void>): Promise<number> {
  const pkg = swarm.pkg
  let repaired = 0
  for (let round = 0; ; round++) {
    if (!pkg.complete) await untilComplete()
    const { report, badPieces: bad } = await checkOnDisk(pkg)
    if (report.ok) return repaired
    if (round === REPAIR_ROUNDS) {
      const files = report.files.filter((f) => f.status !== 'ok').map((f) => `${f.path} (${f.status})`)
      throw new PeerstageError(NodeErrorCodes.VERIFY_FAILED, `${pkg.root} still does not verify after fetching its bad pieces again ${REPAIR_ROUNDS} times: ${files.join(', ')}; check the disk ('peerstage verify' names the chunks)`)
    }
    // Sizes alone off (no bad chunk): markMissing restores them, nothing to fetch.
    await pkg.markMissing(bad)
    swarm.recheck()
    repaired += bad.length
  }
}

/**
 * Opens a wire to each peer; throws (naming a wrong swarm key first) only when none answers.
 * Returns the others' failures, for the caller to say.
 */
export async function connectAll(node: PeerNode, packageId: string, peers: string[]): Promise<Error[]> {
  const failures: Error[] = []
  await Promise.all(peers.map(async (p) => {
    try {
      await node.connect(packageId, p)
    } catch (err) {
      failures.push(err as Error)
    }
  }))
  if (failures.length === peers.length) {
    const mismatch = failures.find((f) => isPeerstageError(f, NodeErrorCodes.SWARM_KEY_MISMATCH))
    throw new PeerstageError(mismatch ? NodeErrorCodes.SWARM_KEY_MISMATCH : NodeErrorCodes.DIAL_FAILED, `no peer could be reached: ${(mismatch ?? failures[0])!.message}`)
  }
  return failures
}
