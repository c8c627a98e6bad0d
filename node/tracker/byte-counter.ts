import type { PackageSwarm } from '../swarm.ts'
import type { WanLimits } from './wan-limits.ts'

type Counters = { lan: number, wan: number, uploaded: Map<string, number> }

/**
 * Package bytes this process received from LAN peers and across the WAN, and uploaded per
 * destination subnet: what the announces report (and a client's deployment reports add to
 * what earlier processes saved).
 */
export class ByteCounter {
  private readonly limits: WanLimits
  private readonly counters = new Map<string, Counters>()
  private readonly watched = new WeakSet<PackageSwarm>()

  constructor(limits: WanLimits) {
    this.limits = limits
  }

  /** Received bytes of a package, by where they came from. */
  bytesOf(packageId: string): { lan: number, wan: number } {
    const c = this.counters.get(packageId)
    return { lan: c?.lan ?? 0, wan: c?.wan ?? 0 }
  }

  /** Uploaded bytes of a package per destination subnet. */
  uploadedOf(packageId: string): Record<string, number> {
    return Object.fromEntries(this.counters.get(packageId)?.uploaded ?? [])
  }

  /** Starts counting a swarm's bytes (once per swarm). */
  watch(swarm: PackageSwarm): void {
    if (this.watched.has(swarm)) return
    this.watched.add(swarm)
    const c = this.countersOf(swarm.pkg.packageId)
    swarm.on('download', (n, from) => {
      if (this.limits.isWanPeer(from.id)) c.wan += n
      else c.lan += n
    })
    swarm.on('upload', (n, to) => {
      const subnet = this.limits.subnetOf(to.ip)
      c.uploaded.set(subnet, (c.uploaded.get(subnet) ?? 0) + n)
    })
  }

  private countersOf(id: string): Counters {
    let c = this.counters.get(id)
    if (c === undefined) this.counters.set(id, c = { lan: 0, wan: 0, uploaded: new Map() })
    return c
  }
}
