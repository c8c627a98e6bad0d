/**
 * Works around a memory leak in xsalsa20 1.2.0, the cipher under @libp2p/pnet.
 *
 * All its instances share one WebAssembly memory, but each caches its own view of it. When
 * one instance grows the memory (an input over the current size), every other instance's
 * view is detached (length 0), and from then on each of their updates "grows" the memory
 * again by its whole input size. A node with a few connections hit the 4 GiB ceiling
 * after ~900 MB of traffic and crashed (RangeError: WebAssembly.Memory.grow()).
 *
 * The fix hands a detached instance the newest live view before each update.
 */
import XSalsa20 from 'xsalsa20'

interface WasmXor { _memory?: Uint8Array }
interface Instance { _xor?: WasmXor }
type Update = (this: Instance, input: Uint8Array, output?: Uint8Array) => Uint8Array

const proto = (XSalsa20 as unknown as { prototype: { update: Update, __peerstageFixed?: boolean } }).prototype

if (proto.__peerstageFixed !== true) {
  proto.__peerstageFixed = true
  const update = proto.update
  let live: Uint8Array | undefined
  proto.update = function (input, output) {
    const xor = this._xor
    if (xor?._memory !== undefined && live !== undefined && live.buffer.byteLength > 0 && xor._memory.buffer !== live.buffer) {
      xor._memory = live
    }
    const result = update.call(this, input, output)
    if (xor?._memory !== undefined && xor._memory.buffer.byteLength > 0) live = xor._memory
    return result
  }
}
