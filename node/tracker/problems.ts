import { isPeerstageError } from '../../common/index.ts'
import { MAX_REASON_CHARS, type NodeProblem } from '../../tracker/protocol/index.ts'
import { NodeErrorCodes } from '../errors.ts'
import type { PackageSwarm } from '../swarm.ts'

/** Failures without a peerstage code of their own are told as the nearest stable one. */
const FALLBACK_CODE = NodeErrorCodes.DIAL_FAILED

/**
 * What keeps a node from its work, as its announces tell the tracker (so `status` and
 * `deploy show` say why a node sits at 0 %, not only that it does): a package's pieces that
 * cannot be written (a full disk), peers handed out that cannot be joined (another swarm key
 * above all, refused, unreachable) while no peer serves it, or what its role reports (a
 * client's deployment waiting for disk space). A problem goes once what caused it does: a
 * piece written, a peer joined, the package complete or dropped.
 */
export class NodeProblems {
  /** Package id → why its last piece write failed; cleared by the next written piece. */
  private readonly writeFailed = new Map<string, Error>()
  /** Package id → the last dial of a peer handed out for it that failed; cleared by a dial that works. */
  private readonly dialFailed = new Map<string, Error>()
  /** `CODE message` → when first seen (wall clock), so `since` holds while the problem does. */
  private readonly firstSeen = new Map<string, string>()
  private readonly watched = new WeakSet<PackageSwarm>()
  private readonly now: () => Date

  constructor(now: () => Date = () => new Date()) {
    this.now = now
  }

  /** Follows a swarm's write failures and recoveries. */
  watch(swarm: PackageSwarm): void {
    if (this.watched.has(swarm)) return
    this.watched.add(swarm)
    const id = swarm.pkg.packageId
    swarm.on('error', (err) => this.writeFailed.set(id, err))
    swarm.on('piece', () => this.writeFailed.delete(id))
  }

  dialFailedFor(packageId: string, err: Error): void {
    this.dialFailed.set(packageId, err)
  }

  dialWorkedFor(packageId: string): void {
    this.dialFailed.delete(packageId)
  }

  /**
   * The one problem to show, worst first: a write failure (nothing can be kept), what the
   * role reports, then peers that cannot be joined by a package no peer serves now (a wrong
   * swarm key before any other reason). Undefined when nothing is wrong.
   */
  current(swarms: readonly PackageSwarm[], fromRole: NodeProblem | undefined): NodeProblem | undefined {
    const live = new Set(swarms.map((s) => s.pkg.packageId))
    for (const id of [...this.writeFailed.keys(), ...this.dialFailed.keys()]) {
      if (!live.has(id)) { this.writeFailed.delete(id); this.dialFailed.delete(id) }
    }
    const named = (s: PackageSwarm): string => `${s.pkg.manifest.name}@${s.pkg.manifest.version}`
    for (const s of swarms) {
      const err = this.writeFailed.get(s.pkg.packageId)
      if (err !== undefined && !s.pkg.complete) return this.dated(codeOf(err), `cannot write ${named(s)}: ${err.message}`)
    }
    if (fromRole !== undefined) return this.dated(fromRole.code, fromRole.message)
    const stuck = swarms.filter((s) => !s.pkg.complete && s.peerCount === 0 && this.dialFailed.has(s.pkg.packageId))
    const worst = stuck.find((s) => isPeerstageError(this.dialFailed.get(s.pkg.packageId), NodeErrorCodes.SWARM_KEY_MISMATCH)) ?? stuck[0]
    if (worst !== undefined) {
      const err = this.dialFailed.get(worst.pkg.packageId)!
      return this.dated(codeOf(err), `cannot join any peer handed out for ${named(worst)}: ${err.message}`)
    }
    this.firstSeen.clear()
    return undefined
  }

  private dated(code: string, message: string): NodeProblem {
    const text = message.length > MAX_REASON_CHARS ? `${message.slice(0, MAX_REASON_CHARS - 1)}…` : message
    const key = `${code} ${text}`
    let since = this.firstSeen.get(key)
    if (since === undefined) {
      this.firstSeen.clear() // one problem at a time: another one starts its own clock
      this.firstSeen.set(key, since = this.now().toISOString())
    }
    return { code, message: text, since }
  }
}

function codeOf(err: Error): string {
  return isPeerstageError(err) ? err.code : FALLBACK_CODE
}
