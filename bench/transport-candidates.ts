/**
 * The swarm-membership candidates bench/transport.ts measures (issue 15, item 1), each one
 * libp2p configuration over TCP + noise + yamux:
 *
 * - `host`: what node/host.ts ships: noise's prologue = swarmPrologue(swarm key).
 * - `host-big`: `host` with yamux's knobs turned up (4 MiB initial and 16 MiB largest stream
 *   window, 1 MiB messages): fewer window updates and yamux headers. Both ends must agree (a
 *   peer with the spec's 256 KiB initial window would see its window exceeded).
 * - `aes`: a connection protector shaped like @libp2p/pnet (24-byte nonces each way, then a
 *   keystream over every byte, under noise) with AES-256-CTR from node:crypto, one key per
 *   connection and direction = HKDF-SHA256(swarm key, sender nonce || receiver nonce).
 * - `none`: noise alone, no membership check: the floor.
 * - `tls-psk`, `tls-psk-chacha` (issue 15, the bulk channel): libp2p (as `host`) carries only a
 *   ticket: the sender issues a fresh random 32-byte secret and a 16-byte identity on a libp2p
 *   stream (so under noise, to the peer noise authenticated), and the bytes then go over a
 *   separate `node:tls` TLS 1.3 connection keyed by that external PSK (no certificate; psk_dhe_ke,
 *   so X25519 too), TLS_AES_128_GCM_SHA256 or TLS_CHACHA20_POLY1305_SHA256. Each ticket is
 *   good for one connection; a wrong secret fails TLS's binder check ("binder does not verify").
 *
 * @libp2p/pnet itself (XSalsa20 in WASM, the first design) is gone from the dependencies; its
 * last figures are in the README ("The node").
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { AbortOptions, MessageStream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import { createCipheriv, hkdfSync, randomBytes, type Cipheriv } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { connect as tlsConnect, createServer as tlsServer, type TLSSocket } from 'node:tls'
import type { Libp2pOptions } from 'libp2p'
import { swarmPrologue } from '../node/swarm-key.ts'

export const VARIANTS = ['host', 'host-big', 'aes', 'none', 'tls-psk', 'tls-psk-chacha'] as const
export type Variant = typeof VARIANTS[number]

/** The TLS 1.3 suite of each bulk-channel variant; the others move bytes on the libp2p stream. */
export const TLS_SUITES: Partial<Record<Variant, string>> = { 'tls-psk': 'TLS_AES_128_GCM_SHA256', 'tls-psk-chacha': 'TLS_CHACHA20_POLY1305_SHA256' }

/** The 32 key bytes of a swarm key file's contents (loadSwarmKey's output). */
function keyBytes(swarmKey: Uint8Array): Buffer {
  return Buffer.from(new TextDecoder().decode(swarmKey).trim().split('\n')[2]!, 'hex')
}

export function transportOptions(variant: Variant, swarmKey: Uint8Array): Pick<Libp2pOptions, 'connectionProtector' | 'connectionEncrypters' | 'streamMuxers' | 'transports'> {
  return {
    transports: [tcp()],
    ...(variant === 'aes' && { connectionProtector: aesProtector(keyBytes(swarmKey)) }),
    connectionEncrypters: [noise(variant === 'aes' || variant === 'none' ? {} : { prologueBytes: swarmPrologue(swarmKey) })],
    streamMuxers: [variant === 'host-big'
      ? yamux({ maxMessageSize: 2 ** 20, streamOptions: { initialStreamWindowSize: 4 * 2 ** 20, maxStreamWindowSize: 16 * 2 ** 20 } })
      : yamux()],
  }
}

/** A bulk-channel ticket, as sent on the libp2p stream: TLS port (u16 BE) || identity (16) || secret (32). */
export const TICKET_BYTES = 2 + 16 + 32

/**
 * The sender's end of a TLS bulk channel: `issue()` makes a one-use ticket to send on a libp2p
 * stream; the connection that presents it gets `onSocket`. Any other identity is refused.
 */
export async function tlsBulkServer(host: string, suite: string, onSocket: (s: TLSSocket) => void): Promise<{ issue(): Uint8Array, close(): void }> {
  const secrets = new Map<string, Buffer>()
  const server = tlsServer({
    ciphers: suite, minVersion: 'TLSv1.3',
    pskCallback: (_socket, identity) => { const k = secrets.get(identity) ?? null; secrets.delete(identity); return k },
  }, onSocket)
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const port = (server.address() as AddressInfo).port
  return {
    issue() {
      const ticket = Buffer.alloc(TICKET_BYTES)
      ticket.writeUInt16BE(port)
      randomBytes(48).copy(ticket, 2)
      secrets.set(ticket.toString('hex', 2, 18), ticket.subarray(18))
      return ticket
    },
    close: () => server.close(),
  }
}

/** The receiver's end: connect to the ticket's port on `host` and prove the ticket's secret. */
export function tlsBulkConnect(host: string, suite: string, ticket: Uint8Array): TLSSocket {
  const t = Buffer.from(ticket.buffer, ticket.byteOffset, TICKET_BYTES)
  return tlsConnect({
    host, port: t.readUInt16BE(0), ciphers: suite, minVersion: 'TLSv1.3',
    pskCallback: () => ({ identity: t.toString('hex', 2, 18), psk: t.subarray(18) }),
    checkServerIdentity: () => undefined, // no certificate: the PSK binder authenticates the server
  })
}

const NONCE_BYTES = 24

function aesProtector(psk: Buffer) {
  return () => ({
    async protect(connection: MessageStream, options: AbortOptions = { signal: AbortSignal.timeout(5000) }): Promise<MessageStream> {
      const local = randomBytes(NONCE_BYTES)
      const bytes = byteStream(connection)
      const [remote] = await Promise.all([bytes.read({ bytes: NONCE_BYTES, ...options }), bytes.write(local, options)])
      const remoteNonce = remote.subarray()
      if (Buffer.compare(remoteNonce, local) === 0) throw new Error('swarm protector: the remote nonce echoes ours')
      const key = (from: Uint8Array, to: Uint8Array) => Buffer.from(hkdfSync('sha256', psk, Buffer.concat([from, to]), 'peerstage-swarm/1 aes-256-ctr', 32))
      return new AesStream(bytes.unwrap() as never, createCipheriv('aes-256-ctr', key(local, remoteNonce), Buffer.alloc(16)), createCipheriv('aes-256-ctr', key(remoteNonce, local), Buffer.alloc(16)))
    },
  })
}

class AesStream extends AbstractMultiaddrConnection {
  private readonly inner: AbstractMultiaddrConnection
  private readonly out: Cipheriv

  constructor(inner: AbstractMultiaddrConnection, out: Cipheriv, inbound: Cipheriv) {
    super({ log: inner.log, remoteAddr: inner.remoteAddr, direction: inner.direction })
    this.inner = inner
    this.out = out
    inner.addEventListener('message', (evt) => {
      const data = evt.data
      if (data instanceof Uint8Array) this.onData(inbound.update(data))
      else for (const buf of data) this.onData(inbound.update(buf))
    })
    inner.addEventListener('drain', () => this.onMuxerDrain())
    inner.addEventListener('close', (evt) => {
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error)
        else this.onRemoteReset()
      } else this.onTransportClosed()
    })
  }

  async sendClose(options?: AbortOptions): Promise<void> { await this.inner.close(options) }
  sendData(data: Parameters<AbstractMultiaddrConnection['sendData']>[0]) {
    const parts = [...data].map((buf) => this.out.update(buf))
    return { sentBytes: data.byteLength, canSendMore: this.inner.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts)) }
  }

  sendReset(err: Error): void { this.inner.abort(err) }
  sendPause(): void { this.inner.pause() }
  sendResume(): void { this.inner.resume() }
}
