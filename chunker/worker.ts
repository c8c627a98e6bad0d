/**
 * Worker-thread side of the hash pool: cuts and hashes file ranges so both cores work.
 * Messages are plain data; results move back with their buffers transferred, not copied.
 */
import { parentPort } from 'node:worker_threads'
import { createCutter, type ChunkingParams, type Cutter } from './fastcdc.ts'
import { scanRange, type ScanRequest } from './scan.ts'
import { verifyRange, type VerifyRangeRequest } from './verify-range.ts'

export type WorkerJob =
  | { kind: 'scan', params: ChunkingParams, bufferBytes: number, req: ScanRequest }
  | { kind: 'verify', bufferBytes: number, req: VerifyRangeRequest }

let cutter: Cutter | undefined
let cutterKey = ''
let verifyBuffer: Buffer | undefined

function run(job: WorkerJob): { result: unknown, transfer: ArrayBuffer[] } {
  if (job.kind === 'scan') {
    const key = JSON.stringify([job.params, job.bufferBytes])
    if (cutter === undefined || key !== cutterKey) {
      cutter = createCutter(job.params, job.bufferBytes)
      cutterKey = key
    }
    const result = scanRange(cutter, job.req)
    return { result, transfer: [result.lengths.buffer as ArrayBuffer] }
  }
  if (verifyBuffer === undefined || verifyBuffer.length < job.bufferBytes) verifyBuffer = Buffer.allocUnsafe(job.bufferBytes)
  return { result: verifyRange(verifyBuffer, job.req), transfer: [] }
}

parentPort?.on('message', ({ id, job }: { id: number, job: WorkerJob }) => {
  try {
    const { result, transfer } = run(job)
    parentPort!.postMessage({ id, result }, transfer)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    parentPort!.postMessage({ id, error: { message: e.message, code: e.code, path: e.path } })
  }
})
