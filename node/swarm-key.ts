import { createHmac, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { NodeErrorCodes, nodeError } from './errors.ts'

/**
 * The organisation's pre-shared swarm key, in the format libp2p-pnet (and IPFS) use:
 *
 * ```
 * /key/swarm/psk/1.0.0/
 * /base16/
 * <64 hex digits>
 * ```
 * A node without it cannot complete a connection with any peerstage node: the host mixes
 * swarmPrologue(key) into every noise handshake (node/host.ts).
 */
const HEADER = '/key/swarm/psk/1.0.0/\n/base16/\n'

export function generateSwarmKeyFile(path: string): void {
  if (existsSync(path)) throw nodeError(NodeErrorCodes.SWARM_KEY_EXISTS, `${path} already exists; every node of the swarm uses it, so it is never overwritten`, { details: { path } })
  writeFileSync(path, `${HEADER}${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
}

/** Reads and checks a swarm key file; returns its canonical text as bytes (swarmPrologue takes them). */
export function loadSwarmKey(path: string): Uint8Array {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw nodeError(NodeErrorCodes.SWARM_KEY_INVALID, `cannot read swarm key ${path}: ${(err as Error).message}`, { cause: err, details: { path } })
  }
  const lines = text.trim().split(/\r?\n/)
  if (lines.length !== 3 || `${lines[0]}\n${lines[1]}\n` !== HEADER || !/^[0-9a-fA-F]{64}$/.test(lines[2]!)) {
    throw nodeError(NodeErrorCodes.SWARM_KEY_INVALID, `${path} is not a swarm key (expected /key/swarm/psk/1.0.0/, /base16/ and 64 hex digits; make one with \`peerstage swarm-key\`)`, { details: { path } })
  }
  return new TextEncoder().encode(`${HEADER}${lines[2]!.toLowerCase()}`)
}

/**
 * The noise prologue every member of the swarm shares: HMAC-SHA256(swarm key, 'peerstage-swarm/1').
 * Both sides of a noise handshake mix it into the transcript hash, so a peer with another key
 * (or none) fails the handshake's first authenticated message.
 */
export function swarmPrologue(swarmKey: Uint8Array): Uint8Array {
  const hex = new TextDecoder().decode(swarmKey).slice(HEADER.length)
  return createHmac('sha256', Buffer.from(hex, 'hex')).update('peerstage-swarm/1').digest()
}
