/** The tracker's permission for one client to pull a package across the WAN for a while. */
export interface Lease {
  subnet: string
  packageId: string
  peerId: string
  grantedAt: number
  expiresAt: number
}

const slot = (subnet: string, packageId: string): string => `${subnet} ${packageId}`
export const leaseKey = (l: Pick<Lease, 'subnet' | 'packageId' | 'peerId'>): string => `${slot(l.subnet, l.packageId)} ${l.peerId}`
export function parseLeaseKey(key: string): Pick<Lease, 'subnet' | 'packageId' | 'peerId'> {
  const [subnet = '', packageId = '', peerId = ''] = key.split(' ')
  return { subnet, packageId, peerId }
}

/**
 * WAN leases by subnet and package: at most a limit at once per (subnet, package); one not
 * renewed before it expires is gone, so the next client to ask gets it.
 */
export class LeaseTable {
  private readonly slots = new Map<string, Map<string, Lease>>()
  private readonly perSubnet = new Map<string, number>()

  /** Active leases of a subnet, all packages: the budget is split between them. */
  activeIn(subnet: string): number {
    return this.perSubnet.get(subnet) ?? 0
  }

  holders(subnet: string, packageId: string): Lease[] {
    return [...(this.slots.get(slot(subnet, packageId))?.values() ?? [])]
  }

  get(subnet: string, packageId: string, peerId: string): Lease | undefined {
    return this.slots.get(slot(subnet, packageId))?.get(peerId)
  }

  /** The lease's place among its slot's holders, in the order they were granted (or restored). */
  shareOf(lease: Lease): { index: number, of: number } {
    const holders = this.holders(lease.subnet, lease.packageId)
    return { index: Math.max(0, holders.findIndex((l) => l.peerId === lease.peerId)), of: Math.max(1, holders.length) }
  }

  /** Whether `limit` live leases of the slot are held, none by `peerId`: no need to ask a shared store. */
  fullWithout(subnet: string, packageId: string, peerId: string, limit: number, now: number): boolean {
    const m = this.slots.get(slot(subnet, packageId))
    if (m === undefined || m.has(peerId)) return false
    let live = 0
    for (const l of m.values()) if (l.expiresAt > now) live++
    return live >= limit
  }

  all(): Lease[] {
    return [...this.slots.values()].flatMap((m) => [...m.values()])
  }

  /**
   * Renews the peer's lease, or grants one when fewer than `limit` are held. Returns the
   * lease, or undefined when the slot is full. Expired leases in the slot are dropped first
   * (returned in `expired`).
   */
  acquire(subnet: string, packageId: string, peerId: string, limit: number, now: number, ttlMs: number): { lease: Lease | undefined, expired: Lease[] } {
    const expired = this.expireSlot(subnet, packageId, now)
    const existing = this.get(subnet, packageId, peerId)
    if (existing !== undefined) {
      existing.expiresAt = now + ttlMs
      return { lease: existing, expired }
    }
    if (this.holders(subnet, packageId).length >= limit) return { lease: undefined, expired }
    const lease = { subnet, packageId, peerId, grantedAt: now, expiresAt: now + ttlMs }
    this.put(lease)
    return { lease, expired }
  }

  /** Adds a lease as it is (restored from the store). */
  put(lease: Lease): void {
    const key = slot(lease.subnet, lease.packageId)
    let m = this.slots.get(key)
    if (m === undefined) this.slots.set(key, m = new Map())
    if (!m.has(lease.peerId)) this.perSubnet.set(lease.subnet, this.activeIn(lease.subnet) + 1)
    m.set(lease.peerId, lease)
  }

  release(subnet: string, packageId: string, peerId: string): Lease | undefined {
    const key = slot(subnet, packageId)
    const m = this.slots.get(key)
    const lease = m?.get(peerId)
    if (lease === undefined) return undefined
    m!.delete(peerId)
    if (m!.size === 0) this.slots.delete(key)
    const left = this.activeIn(subnet) - 1
    if (left > 0) this.perSubnet.set(subnet, left)
    else this.perSubnet.delete(subnet)
    return lease
  }

  /** Drops every lease expired at `now`; returns them. */
  expire(now: number): Lease[] {
    return this.all().filter((l) => l.expiresAt <= now).map((l) => this.release(l.subnet, l.packageId, l.peerId)!)
  }

  private expireSlot(subnet: string, packageId: string, now: number): Lease[] {
    return this.holders(subnet, packageId).filter((l) => l.expiresAt <= now).map((l) => this.release(l.subnet, l.packageId, l.peerId)!)
  }
}
