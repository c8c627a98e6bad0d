import { CUT_WASM_BASE64 } from './cut-wasm.ts'
import { GEAR, MASKS } from './gear-tables.ts'

/**
 * FastCDC 2020, cut for cut as the `fastcdc` crate's v2020 module (two bytes per step with
 * a left-shifted gear table). See ../shared/fixtures/fastcdc2020/README.md.
 *
 * The loop runs in WebAssembly (cut.wat): it needs 64-bit wrapping arithmetic, which plain
 * JavaScript only has as BigInt or as two int32 halves with carries, and both measured
 * 4x slower here (0.4 GB/s against 1.7 GB/s).
 */

export interface ChunkingParams {
  /** Smallest chunk, bytes (the last chunk of a file may be smaller). */
  minSize: number
  /** Target average chunk, bytes. */
  avgSize: number
  /** Largest chunk, bytes. */
  maxSize: number
  /** Normalization level 0..3: how tightly chunk sizes gather around the average. */
  normalization: number
}

export const DEFAULT_CHUNKING: Readonly<ChunkingParams> = Object.freeze({
  minSize: 16 * 1024,
  avgSize: 64 * 1024,
  maxSize: 256 * 1024,
  normalization: 2,
})

/** The crate's bounds; outside them the mask table has no entry. */
const LIMITS = {
  minSize: [64, 1024 * 1024],
  avgSize: [256, 4 * 1024 * 1024],
  maxSize: [1024, 16 * 1024 * 1024],
  normalization: [0, 3],
} as const

/** Throws RangeError naming the parameter and the rule it breaks. */
export function validateChunkingParams(p: ChunkingParams): ChunkingParams {
  for (const key of Object.keys(LIMITS) as Array<keyof ChunkingParams>) {
    const [lo, hi] = LIMITS[key]
    const v = p[key]
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new RangeError(`chunking.${key} must be an integer from ${lo} to ${hi}, got ${v}`)
    }
  }
  if (!(p.minSize <= p.avgSize && p.avgSize <= p.maxSize)) {
    throw new RangeError(`chunking sizes must satisfy min <= avg <= max, got ${p.minSize}/${p.avgSize}/${p.maxSize}`)
  }
  return p
}

const U64 = (1n << 64n) - 1n
/** Memory layout shared with cut.wat. */
const GEAR_OFFSET = 0
const GEAR_LS_OFFSET = 2048
const DATA_OFFSET = 4096
const WASM_PAGE = 65536

// @types/node does not declare WebAssembly (only the DOM lib does): the parts used here.
interface WasmMemory { readonly buffer: ArrayBuffer, grow(pages: number): number }
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: Record<string, unknown> }
}

let wasmModule: object | undefined

type CutFn = (src: number, remaining: number, min: number, avg: number, max: number,
  maskS: bigint, maskSls: bigint, maskL: bigint, maskLls: bigint) => number

/**
 * A chunk finder with its own data buffer: read file bytes into `data`, then ask `cut` where
 * the chunk starting at `data[offset]` ends. One per thread; not shared.
 */
export interface Cutter {
  readonly params: ChunkingParams
  /** Where file bytes go; the WebAssembly loop reads them in place. */
  readonly data: Uint8Array
  /**
   * Length of the chunk starting at `data[offset]`, given `remaining` bytes from there to
   * the end of the file. `data` must hold min(remaining, maxSize) bytes from `offset`.
   */
  cut(offset: number, remaining: number): number
}

/** @param capacity bytes of `data`; at least `maxSize`. */
export function createCutter(params: ChunkingParams, capacity: number): Cutter {
  validateChunkingParams(params)
  if (capacity < params.maxSize) throw new RangeError(`cutter capacity ${capacity} is below maxSize ${params.maxSize}`)
  const bits = Math.round(Math.log2(params.avgSize))
  const small = MASKS[bits + params.normalization]!
  const large = MASKS[bits - params.normalization]!
  const signed = (v: bigint): bigint => BigInt.asIntN(64, v & U64)
  const maskS = signed(small)
  const maskSls = signed(small << 1n)
  const maskL = signed(large)
  const maskLls = signed(large << 1n)

  wasmModule ??= new WebAssembly.Module(Buffer.from(CUT_WASM_BASE64, 'base64'))
  const instance = new WebAssembly.Instance(wasmModule)
  const memory = instance.exports.memory as WasmMemory
  const needPages = Math.ceil((DATA_OFFSET + capacity) / WASM_PAGE)
  memory.grow(needPages - memory.buffer.byteLength / WASM_PAGE)
  const tables = new DataView(memory.buffer)
  GEAR.forEach((g, i) => {
    tables.setBigUint64(GEAR_OFFSET + i * 8, g, true)
    tables.setBigUint64(GEAR_LS_OFFSET + i * 8, (g << 1n) & U64, true)
  })
  const wasmCut = instance.exports.cut as CutFn
  const { minSize, avgSize, maxSize } = params
  // Any remaining beyond maxSize behaves the same; clamping keeps it inside i32.
  const clampTo = maxSize + 1

  return {
    params,
    data: new Uint8Array(memory.buffer, DATA_OFFSET, capacity),
    cut(offset, remaining) {
      const rem = remaining > clampTo ? clampTo : remaining
      return wasmCut(DATA_OFFSET + offset, rem, minSize, avgSize, maxSize, maskS, maskSls, maskL, maskLls)
    },
  }
}

/** Chunk lengths of a whole in-memory buffer (small inputs and tests). */
export function chunkBuffer(params: ChunkingParams, input: Uint8Array): number[] {
  const cutter = createCutter(params, Math.max(input.length, params.maxSize))
  cutter.data.set(input)
  const lengths: number[] = []
  for (let pos = 0; pos < input.length;) {
    const len = cutter.cut(pos, input.length - pos)
    lengths.push(len)
    pos += len
  }
  return lengths
}
