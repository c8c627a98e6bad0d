/**
 * The hash pool's jobs, run where they are sent: on a worker thread (worker.ts) or, for a
 * pool of no threads, on the caller's own.
 */
import { createCutter, type ChunkingParams, type Cutter } from './fastcdc.ts'
import { scanRange, type ScanRequest } from './scan.ts'
import { verifyRange, type VerifyRangeRequest } from './verify-range.ts'

export type WorkerJob =
  | { kind: 'scan', params: ChunkingParams, bufferBytes: number, req: ScanRequest }
  | { kind: 'verify', bufferBytes: number, req: VerifyRangeRequest }

/** One thread's cutter and read buffer, kept from job to job. */
export function createJobRunner(): (job: WorkerJob) => { result: unknown, transfer: ArrayBuffer[] } {
  let cutter: Cutter | undefined
  let cutterKey = ''
  let verifyBuffer: Buffer | undefined
  return (job) => {
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
}
