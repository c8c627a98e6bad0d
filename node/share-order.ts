/**
 * The order in which a node pulls pieces from an expensive source (a DP across the WAN, or
 * the origin of a swarm without a tracker) when several nodes of one LAN pull from it at
 * once: share k of n is the k-th of n runs of pieces, pulled upward from its start; then the
 * other runs, the next one first, each from its end downward. Every run so has its owner
 * climbing it and at most one other node coming down it: they meet once, head-on, instead
 * of pulling the same pieces side by side.
 */
export interface Share {
  index: number
  of: number
}

export interface ShareRun {
  /** First piece of our own run. */
  start: number
  /** One past our run's last piece. */
  end: number
  /** Lowest first: our run in order, then the others' runs from their far ends. */
  rank: (piece: number) => number
}

/** A share that makes sense for these many pieces, or the whole package (0 of 1). */
export function validShare(share: Share): Share {
  return share.of >= 1 && share.index >= 0 && share.index < share.of && Number.isInteger(share.index) && Number.isInteger(share.of) ? share : { index: 0, of: 1 }
}

export function shareRun(pieceCount: number, share: Share): ShareRun {
  const n = pieceCount
  const { index, of } = validShare(share)
  const runStart = (k: number): number => Math.floor((k * n) / of)
  const start = runStart(index)
  const end = runStart(index + 1)
  const runOf = (piece: number): number => {
    let k = Math.min(of - 1, Math.floor((piece * of) / n))
    while (k > 0 && runStart(k) > piece) k--
    while (k < of - 1 && runStart(k + 1) <= piece) k++
    return k
  }
  return {
    start,
    end,
    rank: (piece) => {
      if (piece >= start && piece < end) return piece - start
      const k = runOf(piece)
      return ((k - index + of) % of) * n + (runStart(k + 1) - 1 - piece)
    },
  }
}

/**
 * Without a tracker to hand out shares: ours among the nodes pulling from the same source,
 * by sorted peer id. Nodes that see the same peers agree without a word; those that do not
 * only overlap more.
 */
export function localShare(selfId: string, pullingPeerIds: Iterable<string>): Share {
  const ids = [...new Set([selfId, ...pullingPeerIds])].sort()
  return { index: ids.indexOf(selfId), of: ids.length }
}
