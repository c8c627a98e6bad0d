/** Piece bits, most significant bit first, as BitTorrent's bitfield message carries them. */
export class Bitfield {
  readonly length: number
  readonly bytes: Uint8Array

  constructor(length: number, bytes?: Uint8Array) {
    this.length = length
    this.bytes = new Uint8Array(Math.ceil(length / 8))
    if (bytes !== undefined) this.bytes.set(bytes.subarray(0, this.bytes.length))
  }

  get(i: number): boolean {
    return i >= 0 && i < this.length && (this.bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0
  }

  set(i: number, value = true): void {
    if (i < 0 || i >= this.length) throw new RangeError(`piece ${i} is outside 0..${this.length - 1}`)
    if (value) this.bytes[i >> 3]! |= 0x80 >> (i & 7)
    else this.bytes[i >> 3]! &= ~(0x80 >> (i & 7))
  }

  count(): number {
    let n = 0
    for (let i = 0; i < this.length; i++) if (this.get(i)) n++
    return n
  }

  full(): boolean {
    return this.count() === this.length
  }
}
