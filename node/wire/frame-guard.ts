import { NodeErrorCodes, nodeError } from '../errors.ts'

/** BitTorrent handshake: <pstrlen=19><"BitTorrent protocol"><8 reserved><20 info hash><20 peer id>. */
export const HANDSHAKE_BYTES = 68

/**
 * Follows the framing of incoming wire bytes (the handshake, then `<u32 length><message>`)
 * and throws before a peer can make us buffer a message longer than `maxMessageBytes`:
 * bittorrent-protocol itself would wait for, and hold, whatever length a peer claims.
 * It reads only the length prefixes; the bytes themselves pass on untouched.
 */
export class FrameGuard {
  private inHandshake = true
  /** Bytes left of the handshake or of the current message body. */
  private remaining = HANDSHAKE_BYTES
  /** A length prefix being assembled across chunks. */
  private readonly prefix = new Uint8Array(4)
  private prefixHave = 0
  private readonly maxMessageBytes: number

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes
  }

  check(data: Uint8Array): void {
    let at = 0
    while (at < data.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, data.length - at)
        this.remaining -= n
        at += n
        if (this.remaining === 0 && this.inHandshake) this.inHandshake = false
        continue
      }
      this.prefix[this.prefixHave++] = data[at++]!
      if (this.prefixHave === 4) {
        this.prefixHave = 0
        const length = new DataView(this.prefix.buffer).getUint32(0)
        if (length > this.maxMessageBytes) {
          throw nodeError(NodeErrorCodes.WIRE_OVERSIZE, `peer sent a ${length}-byte message; the largest legal one is ${this.maxMessageBytes} bytes`, { details: { length } })
        }
        this.remaining = length
      }
    }
  }
}
