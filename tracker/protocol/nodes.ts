/**
 * How a node presents itself beside its peer id (its name and version, with every announce),
 * what keeps it from its work (a problem, which travels with its state), and how the tracker
 * shows it to people: online, or offline since it was last seen.
 */

/**
 * What keeps a node from its work now, as it last saw it: peers it cannot join (another swarm
 * key, refused, unreachable), a full disk, a source it cannot reach. Absent when all is well.
 */
export interface NodeProblem {
  /** A stable code from the README's "Error codes": PEERSTAGE_NODE_SWARM_KEY_MISMATCH, PEERSTAGE_NODE_DIAL_FAILED, PEERSTAGE_NODE_STORE_DISK_FULL… */
  code: string
  /** One sentence a person can act on (at most MAX_REASON_CHARS). */
  message: string
  /** ISO 8601, the node's clock: when it first had this problem. */
  since: string
}

/**
 * `online`: registered (announced within registrationSeconds). `offline`: its registration
 * expired, it stopped announcing. `stopped`: it told the tracker it was shutting down.
 */
export type NodePresence = 'online' | 'offline' | 'stopped'

/** A node as `status` and `deploy show` list it. Old nodes send no name or version: null. */
export interface NodeSummary {
  peerId: string
  name: string | null
  role: 'client' | 'dp'
  /** The source address of its announces (what placed it). */
  address: string
  subnet: string
  site: string | null
  version: string | null
  presence: NodePresence
  /** ISO 8601, the tracker's clock: its last announce. */
  lastSeenAt: string
  problem: NodeProblem | null
}
