/**
 * Worker-thread side of the hash pool: cuts and hashes file ranges so both cores work.
 * Messages are plain data; results move back with their buffers transferred, not copied.
 */
import { parentPort } from 'node:worker_threads'
import { createJobRunner, type WorkerJob } from './hash-jobs.ts'

const run = createJobRunner()

parentPort?.on('message', ({ id, job }: { id: number, job: WorkerJob }) => {
  try {
    const { result, transfer } = run(job)
    parentPort!.postMessage({ id, result }, transfer)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    parentPort!.postMessage({ id, error: { message: e.message, code: e.code, path: e.path } })
  }
})
