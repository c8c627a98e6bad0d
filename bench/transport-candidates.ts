/**
 * The swarm-membership candidates bench/transport.ts measures (issue 15, item 1), each one
 * libp2p configuration over TCP + noise + yamux:
 *
 * - `host`: what node/host.ts ships: noise's prologue = swarmPrologue(swarm key).
 * - `aes`: a connection protector shaped like @libp2p/pnet (24-byte nonces each way, then a
 *   keystream over every byte, under noise) with AES-256-CTR from node:crypto, one key per
 *   connection and direction = HKDF-SHA256(swarm key, sender nonce || receiver nonce).
 * - `none`: noise alone, no membership check: the floor.
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
import type { Libp2pOptions } from 'libp2p'
import { swarmPrologue } from '../node/swarm-key.ts'

export const VARIANTS = ['host', 'aes', 'none'] as const
export type Variant = typeof VARIANTS[number]

/** The 32 key bytes of a swarm key file's contents (loadSwarmKey's output). */
function keyBytes(swarmKey: Uint8Array): Buffer {
  return Buffer.from(new TextDecoder().decode(swarmKey).trim().split('\n')[2]!, 'hex')
}

export function transportOptions(variant: Variant, swarmKey: Uint8Array): Pick<Libp2pOptions, 'connectionProtector' | 'connectionEncrypters' | 'streamMuxers' | 'transports'> {
  return {
    transports: [tcp()],
    ...(variant === 'aes' && { connectionProtector: aesProtector(keyBytes(swarmKey)) }),
    connectionEncrypters: [noise(variant === 'host' ? { prologueBytes: swarmPrologue(swarmKey) } : {})],
    streamMuxers: [yamux()],
  }
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
