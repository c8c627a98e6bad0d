import type { AddressInfo } from 'node:net'
import { connect, createServer, type Server, type TLSSocket } from 'node:tls'
import { systemClock, type Clock } from '../../bandwidth/index.ts'
import { TicketBook, type Ticket, type TicketBookInit } from './tickets.ts'

/** TLS 1.3 suites offered, in order: AES-GCM where the CPU has AES instructions, else ChaCha20. */
export const BULK_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256'

const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: BULK_CIPHERS } as const

export interface BulkServerInit extends TicketBookInit {
  /** IP to listen on (the node's first libp2p listen IP). */
  host: string
  /** @default 0 (any free port) */
  port?: number
  /**
   * A connection that has not finished its TLS handshake by then is dropped. Node's TLS
   * server keeps this timer (`handshakeTimeout`), on real time, not on `clock`.
   * @default 10_000
   */
  handshakeTimeoutMs?: number
}

export interface BulkConnectInit {
  /** Local address to connect from. @default the OS choice */
  localAddress?: string
  /** The TLS handshake must be done by then. @default 5000 */
  timeoutMs?: number
  /** @default systemClock */
  clock?: Clock
}

/**
 * The accepting end of the bulk channel: a TLS 1.3 server that knows no certificate, only the
 * one-use PSKs of its TicketBook. A connection whose identity is unknown, used or expired, or
 * whose binder does not verify (a wrong secret), fails its handshake and is never handed on.
 * `onSocket` gets each accepted socket with the peer id its ticket was issued to.
 */
export class BulkServer {
  private readonly server: Server
  private readonly tickets: TicketBook
  private readonly sockets = new Set<TLSSocket>()
  private listening = false

  private constructor(server: Server, tickets: TicketBook) {
    this.server = server
    this.tickets = tickets
  }

  static async listen(init: BulkServerInit, onSocket: (socket: TLSSocket, peerId: string) => void): Promise<BulkServer> {
    const tickets = new TicketBook(init)
    const peers = new WeakMap<TLSSocket, string>()
    const server = createServer({
      ...TLS13,
      noDelay: true, // see bulkConnect
      handshakeTimeout: init.handshakeTimeoutMs ?? 10_000,
      pskCallback: (socket, identity) => {
        const t = tickets.take(identity)
        if (t === undefined) return null
        peers.set(socket, t.peerId)
        return t.secret
      },
    })
    const bulk = new BulkServer(server, tickets)
    server.on('secureConnection', (socket: TLSSocket) => {
      const peerId = peers.get(socket)
      if (peerId === undefined) return void socket.destroy() // cannot happen: PSK is the only way in
      bulk.sockets.add(socket)
      socket.once('close', () => bulk.sockets.delete(socket))
      onSocket(socket, peerId)
    })
    server.on('tlsClientError', () => {}) // a failed handshake: the socket is already gone
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(init.port ?? 0, init.host, () => { server.off('error', reject); resolve() })
    })
    bulk.listening = true
    return bulk
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port
  }

  /** A one-use ticket for `peerId`; undefined when too many are outstanding. */
  issue(peerId: string): Ticket | undefined {
    return this.tickets.issue(peerId, this.port)
  }

  async close(): Promise<void> {
    if (!this.listening) return
    this.listening = false
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/**
 * The asking end: a TLS connection to `ip`:ticket.port proving the ticket's secret, from
 * `localAddress` if given. Resolves once the handshake is done (the server's binder proves it
 * holds the same secret, so no certificate is checked); rejects on any failure or after `timeoutMs`.
 */
export function bulkConnect(ip: string, ticket: Ticket, init: BulkConnectInit = {}): Promise<TLSSocket> {
  const timeoutMs = init.timeoutMs ?? 5000
  const clock = init.clock ?? systemClock
  return new Promise((resolve, reject) => {
    const socket = connect({
      ...TLS13,
      host: ip,
      port: ticket.port,
      ...(init.localAddress !== undefined && { localAddress: init.localAddress }),
      pskCallback: () => ({ identity: ticket.identity, psk: ticket.secret }),
      checkServerIdentity: () => undefined,
    })
    // Requests are small writes: with Nagle each could wait for the peer's delayed ACK (40 ms
    // on Linux); a fresh wire's first 4 MB took ~100 ms instead of ~20.
    socket.setNoDelay(true)
    const cancel = clock.setTimer(() => socket.destroy(new Error(`no TLS handshake with ${ip}:${ticket.port} in ${timeoutMs} ms`)), timeoutMs)
    socket.once('secureConnect', () => {
      cancel()
      socket.off('error', reject)
      resolve(socket)
    })
    socket.once('error', (err) => { cancel(); reject(err) })
    socket.once('close', () => { cancel(); reject(new Error(`${ip}:${ticket.port} closed the TLS connection in its handshake`)) })
  })
}
