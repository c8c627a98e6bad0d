import type { Clock } from '../bandwidth/index.ts'
import type { Registration } from './registry.ts'

interface Waiter {
  peerId: string
  resolve: (version: number) => void
}

/**
 * What a node long-polls (`GET /v1/changes`) so it hears within seconds of a change that
 * concerns it, not at its next announce: a deployment created or cancelled that targets a
 * client, a WAN lease handed back in a slot that refused it one. Each change has a version; a node asks with the last one it saw and is answered
 * at once if a later change concerned it (made while it was not waiting), else when one
 * does, or after its wait. It then announces, and the answer carries what changed.
 */
export class NodeChanges {
  private version = 0
  /** The version of the last change that concerned each registration. */
  private readonly lastFor = new WeakMap<Registration, number>()
  private readonly waiters = new Set<Waiter>()
  /** Clients refused a WAN lease, by slot (`SUBNET PACKAGE`): told when one is handed back. */
  private readonly leaseWanted = new Map<string, Set<string>>()
  private readonly clock: Clock
  /** A node's registration now: an announce replaces it, and a waiter may have started before. */
  private readonly lookup: (peerId: string) => Registration | undefined

  constructor(clock: Clock, lookup: (peerId: string) => Registration | undefined) {
    this.clock = clock
    this.lookup = lookup
  }

  /**
   * Records a change for every registration `concerns` picks, and answers their long-polls.
   * The mark stays with the registration: a node whose next announce replaces it gets the
   * change in that announce's answer.
   */
  changed(registrations: Iterable<Registration>, concerns: (reg: Registration) => boolean): void {
    this.version++
    for (const reg of registrations) if (concerns(reg)) this.lastFor.set(reg, this.version)
    for (const w of this.waiters) if (this.concerned(w.peerId, this.version - 1)) w.resolve(this.version)
  }

  /** A client was refused a lease of a full slot: it hears when one there is handed back. */
  leaseRefused(subnet: string, packageId: string, peerId: string): void {
    const key = `${subnet} ${packageId}`
    let peers = this.leaseWanted.get(key)
    if (peers === undefined) this.leaseWanted.set(key, peers = new Set())
    peers.add(peerId)
  }

  /** A lease of the slot was handed back (or expired): the clients refused one announce now. */
  leaseFreed(subnet: string, packageId: string): void {
    const key = `${subnet} ${packageId}`
    const peers = this.leaseWanted.get(key)
    if (peers === undefined) return
    this.leaseWanted.delete(key)
    const regs = [...peers].map(this.lookup).filter((r) => r !== undefined)
    this.changed(regs, () => true)
  }

  /**
   * Resolves once a change after version `after` concerns node `peerId` (`changed`), or
   * after `waitMs` (not changed); with the latest version, the node's next `after`. An
   * unknown node (not registered, or expired) only waits: its announces register it.
   */
  wait(peerId: string, after: number, waitMs: number, signal?: AbortSignal): Promise<{ version: number, changed: boolean }> {
    const changed = (): boolean => this.concerned(peerId, after)
    if (changed() || signal?.aborted === true) return Promise.resolve({ version: this.version, changed: changed() })
    return new Promise((resolve) => {
      const waiter: Waiter = { peerId, resolve: () => done() }
      const done = (): void => {
        cancel()
        this.waiters.delete(waiter)
        signal?.removeEventListener('abort', done)
        resolve({ version: this.version, changed: changed() })
      }
      const cancel = this.clock.setTimer(done, waitMs)
      this.waiters.add(waiter)
      signal?.addEventListener('abort', done)
    })
  }

  /** Whether a change after version `after` concerns the node's registration now. */
  private concerned(peerId: string, after: number): boolean {
    const reg = this.lookup(peerId)
    return reg !== undefined && (this.lastFor.get(reg) ?? 0) > after
  }
}
