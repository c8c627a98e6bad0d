import type { NodeProblem } from '../protocol/index.ts'
import type { Registration } from '../registry.ts'

export interface NodeRow {
  peerId: string
  /** As the node announced them; null from a node older than them. */
  name: string | null
  version: string | null
  /** What keeps it from its work, as its last announce said. */
  problem: NodeProblem | null
  role: 'client' | 'dp'
  site: string | null
  subnet: string
  ip: string
  lastSeenAt: string
  packages: number
  /** Cumulative, as the node last reported them, over every package it holds. */
  bytes: { lan: number, wan: number, reused: number, uploaded: number }
}

/**
 * DPs first, then clients, each most recently seen first; at most `limit` (a large estate
 * has 100 k clients: the page shows the first ones and says how many there are).
 */
export function nodeList(regs: Iterable<Readonly<Registration>>, registrationSeconds: number, now: Date, limit: number): { time: string, total: number, nodes: NodeRow[] } {
  const rows: NodeRow[] = []
  for (const r of regs) {
    const bytes = { lan: 0, wan: 0, reused: 0, uploaded: 0 }
    for (const c of Object.values(r.counters)) {
      for (const [key, n] of Object.entries(c)) {
        if (key === 'lan' || key === 'wan' || key === 'reused') bytes[key] += n
        else if (key.startsWith('up ')) bytes.uploaded += n
      }
    }
    // A registration runs registrationSeconds from the node's last announce.
    const lastSeenAt = new Date(r.expiresAt - registrationSeconds * 1000).toISOString()
    rows.push({ peerId: r.peerId, name: r.name ?? null, version: r.version ?? null, problem: r.problem ?? null, role: r.role, site: r.site ?? null, subnet: r.subnet, ip: r.ip, lastSeenAt, packages: Object.keys(r.packages).length, bytes })
  }
  rows.sort((a, b) => (a.role === b.role ? b.lastSeenAt.localeCompare(a.lastSeenAt) : a.role === 'dp' ? -1 : 1))
  return { time: now.toISOString(), total: rows.length, nodes: rows.slice(0, limit) }
}
