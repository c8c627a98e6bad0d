/**
 * What the commands that talk to a running tracker share: the client for `--tracker URL`
 * and the text they print. Imports the tracker's client face only, never its server.
 */
import { TrackerClient, type NodeSummary, type StateCounts } from '../tracker/client-index.ts'
import { requireString, usageError, type CommandContext } from './cli.ts'
import { trackerCaOption } from './tracker-access.ts'

/** A client for `--tracker URL` (and the token, and `--tracker-ca`), with a usage error for a bad URL. */
export function trackerClient(ctx: CommandContext, token?: string, localAddress?: string): TrackerClient {
  const ca = trackerCaOption(ctx)
  try {
    return new TrackerClient({ url: requireString(ctx, 'tracker'), ...(token !== undefined && { token }), ...(localAddress !== undefined && { localAddress }), ...(ca !== undefined && { ca }) })
  } catch (err) {
    if (err instanceof TypeError) throw usageError(err.message)
    throw err
  }
}

/** `2 succeeded, 1 downloading`: clients of a deployment per state. */
export function countsText(counts: StateCounts): string {
  const parts = Object.entries(counts).map(([state, n]) => `${n} ${state}`)
  return parts.length === 0 ? 'no reports yet' : parts.join(', ')
}

/** `…Xb3kQ9aZ`: the end of a peer id, the part that tells libp2p ids apart. */
export function shortPeerId(id: string): string {
  return id.length <= 12 ? id : `…${id.slice(-8)}`
}

/** Rows padded to their columns, two spaces apart; the last column is not padded. */
export function table(rows: string[][]): string[] {
  if (rows.length === 0) return []
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
}

/** `online`, `offline, last seen 2026-…` or `stopped at 2026-…`: whether a node still announces. */
export function presenceText(n: Pick<NodeSummary, 'presence' | 'lastSeenAt'>): string {
  return n.presence === 'online' ? 'online' : n.presence === 'offline' ? `offline, last seen ${n.lastSeenAt}` : `stopped at ${n.lastSeenAt}`
}

/** `problem: cannot join … (PEERSTAGE_NODE_SWARM_KEY_MISMATCH)`, or nothing. */
export function problemText(n: Pick<NodeSummary, 'problem'>): string {
  return n.problem === null ? '' : `problem: ${n.problem.message} (${n.problem.code})`
}

/** One row per node: name, peer id, address, role, version, presence, problem; as `status` lists them. */
export function nodeRows(nodes: readonly NodeSummary[]): string[][] {
  return nodes.map((n) => [n.name ?? '(no name)', n.peerId, n.address, n.role, n.version ?? '(version ?)', presenceText(n), problemText(n)])
}
