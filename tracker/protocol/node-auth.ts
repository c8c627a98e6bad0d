/**
 * Nodes prove who they are: every announce is signed with the node's libp2p private key
 * (its peer id is its public key), over a timestamp and the exact body bytes. The
 * timestamp must be near the tracker's clock and rise with every announce of that peer,
 * so a captured announce cannot be replayed. This file is the format both sides agree on;
 * the tracker's check is tracker/announce-verifier.ts, apart so that signing loads no key parsing.
 *
 * Header: `x-peerstage-signature: AT.SIG` — AT the signer's wall clock in ms (strictly
 * increasing per peer), SIG the base64url signature of `peerstage-announce/1\nAT\nBODY`.
 */
export const SIGNATURE_HEADER = 'x-peerstage-signature'

/** How far a signature's time may be from the tracker's clock, either way. */
export const MAX_SIGNATURE_SKEW_MS = 5 * 60_000

/** What signs a node's announces: its peer id and private key. */
export interface AnnounceSigner {
  readonly peerId: string
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>
}

/** The bytes a signature covers. */
export function announcePayload(at: number, body: string): Buffer {
  return Buffer.from(`peerstage-announce/1\n${at}\n${body}`, 'utf8')
}

/** The header value for `body` signed at `at`. */
export async function signatureHeader(signer: AnnounceSigner, body: string, at: number): Promise<string> {
  const signature = await signer.sign(announcePayload(at, body))
  return `${at}.${Buffer.from(signature).toString('base64url')}`
}
