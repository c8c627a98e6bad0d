/**
 * The parts of bittorrent-protocol's Wire that peerstage uses (the package ships no types).
 * Message frames, as in BEP 3:
 *   handshake  <19><"BitTorrent protocol"><reserved 8><info hash 20><peer id 20>
 *   choke 0 · unchoke 1 · interested 2 · not interested 3   <len=1><id>
 *   have 4        <len=5><4><piece>
 *   bitfield 5    <len=1+X><5><bits>
 *   request 6     <len=13><6><piece><begin><length>
 *   piece 7       <len=9+X><7><piece><begin><block>
 *   cancel 8      <len=13><8><piece><begin><length>
 */
export interface BitFieldLike {
  get(index: number): boolean
  set(index: number, value?: boolean): void
  buffer: Uint8Array
}

export interface Wire {
  peerChoking: boolean
  amChoking: boolean
  peerInterested: boolean
  amInterested: boolean
  peerPieces: BitFieldLike
  requests: unknown[]
  peerRequests: unknown[]
  handshake(infoHash: Uint8Array | string, peerId: Uint8Array | string, extensions?: Record<string, boolean>): void
  bitfield(bits: BitFieldLike | Uint8Array): void
  have(index: number): void
  choke(): void
  unchoke(): void
  interested(): void
  uninterested(): void
  request(index: number, offset: number, length: number, cb: (err: Error | null, block?: Uint8Array) => void): void
  piece(index: number, offset: number, block: Uint8Array): void
  cancel(index: number, offset: number, length: number): void
  setTimeout(ms: number, unref?: boolean): void
  setKeepAlive(enable: boolean): void
  write(data: Uint8Array): boolean
  pipe<T>(dest: T): T
  pause(): void
  resume(): void
  destroy(): void
  on(event: 'handshake', fn: (infoHash: string, peerId: string, extensions: Record<string, boolean>) => void): this
  on(event: 'bitfield', fn: (bits: BitFieldLike) => void): this
  on(event: 'have', fn: (index: number) => void): this
  on(event: 'request', fn: (index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void) => void): this
  on(event: 'piece', fn: (index: number, offset: number, block: Uint8Array) => void): this
  on(event: 'cancel', fn: (index: number, offset: number, length: number) => void): this
  on(event: 'choke' | 'unchoke' | 'interested' | 'uninterested' | 'timeout' | 'close' | 'drain' | 'finish', fn: () => void): this
  on(event: 'data', fn: (chunk: Uint8Array) => void): this
  on(event: 'error', fn: (err: Error) => void): this
  /** Ours, not bittorrent-protocol's: carry() emits it, just before it closes the wire, when the peer broke the framing (PEERSTAGE_NODE_WIRE_*). */
  on(event: 'violation', fn: (err: Error) => void): this
  emit(event: 'violation', err: Error): boolean
  once(event: string, fn: (...args: any[]) => void): this
}

export type WireConstructor = new () => Wire
