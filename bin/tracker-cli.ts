/**
 * What the commands that talk to a running tracker share: the client for `--tracker URL`
 * and the text they print. Imports the tracker's client face only, never its server.
 */
import { TrackerClient, type StateCounts } from '../tracker/client-index.ts'
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
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
}
