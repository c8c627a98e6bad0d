import { randomBytes } from 'node:crypto'
import { systemClock, type Clock } from '../../bandwidth/index.ts'

/** A ticket on the wire: TLS port (u16 BE) || identity (16 bytes) || secret (32 bytes). */
export const TICKET_BYTES = 2 + 16 + 32

/** What the asker needs to open one bulk connection. */
export interface Ticket {
  port: number
  /** The TLS PSK identity, hex (what pskCallback is handed). */
  identity: string
  /** The 32-byte TLS PSK. */
  secret: Buffer
}

export function encodeTicket(t: Ticket): Uint8Array {
  const out = Buffer.alloc(TICKET_BYTES)
  out.writeUInt16BE(t.port)
  out.write(t.identity, 2, 16, 'hex')
  t.secret.copy(out, 18)
  return out
}

export function decodeTicket(bytes: Uint8Array): Ticket {
  if (bytes.length !== TICKET_BYTES) throw new RangeError(`a bulk ticket is ${TICKET_BYTES} bytes, got ${bytes.length}`)
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  return { port: b.readUInt16BE(0), identity: b.toString('hex', 2, 18), secret: Buffer.from(b.subarray(18)) }
}

export interface TicketBookInit {
  /** How long an issued ticket may wait for its connection. @default 10_000 */
  ticketTtlMs?: number
  /** Outstanding tickets at most; past it, issue() refuses (a member asking in a loop). @default 1024 */
  maxTickets?: number
  /** Ticket expiry is measured on it (monotonic). @default systemClock */
  clock?: Clock
}

/**
 * The server's unused tickets, each for one peer: take() hands a ticket's peer id and secret
 * over once, before its expiry, and forgets it, so a ticket replayed or guessed finds nothing.
 */
export class TicketBook {
  private readonly open = new Map<string, { peerId: string, secret: Buffer, expiresAt: number }>()
  private readonly ttlMs: number
  private readonly max: number
  private readonly clock: Clock

  constructor(init: TicketBookInit = {}) {
    this.ttlMs = init.ticketTtlMs ?? 10_000
    this.max = init.maxTickets ?? 1024
    this.clock = init.clock ?? systemClock
  }

  /** A fresh ticket for `peerId` to connect to `port`; undefined when too many are outstanding. */
  issue(peerId: string, port: number): Ticket | undefined {
    const now = this.clock.nowMs()
    for (const [id, t] of this.open) if (t.expiresAt <= now) this.open.delete(id)
    if (this.open.size >= this.max) return undefined
    const random = randomBytes(48)
    const ticket = { port, identity: random.toString('hex', 0, 16), secret: random.subarray(16) }
    this.open.set(ticket.identity, { peerId, secret: ticket.secret, expiresAt: now + this.ttlMs })
    return ticket
  }

  /** The ticket's peer and secret, once; undefined if unknown, used or expired. */
  take(identity: string): { peerId: string, secret: Buffer } | undefined {
    const t = this.open.get(identity)
    this.open.delete(identity)
    return t === undefined || t.expiresAt <= this.clock.nowMs() ? undefined : t
  }

  get size(): number {
    return this.open.size
  }
}
