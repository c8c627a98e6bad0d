import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { inSingleExecutable, seaAsset, SEA_ASSETS } from '../common/index.ts'
import type { ChunkingParams } from './fastcdc.ts'
import type { ScanRequest, ScanResult } from './scan.ts'
import type { VerifyRangeRequest } from './verify-range.ts'
import { createJobRunner, type WorkerJob } from './hash-jobs.ts'

// From source this file sits beside worker.ts; bundled (scripts/build.ts), every chunk sits
// beside dist/worker.mjs; the single executable carries the worker as an asset (no file to point at).
const WORKER_FILE = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.mjs', import.meta.url)
let carriedWorker: string | undefined

function startWorker(): Worker {
  if (!inSingleExecutable()) return new Worker(WORKER_FILE)
  carriedWorker ??= seaAsset(SEA_ASSETS.worker)?.toString('utf8')
  if (carriedWorker === undefined) throw new Error(`this peerstage binary carries no ${SEA_ASSETS.worker}: rebuild it (npm run build:binary)`)
  return new Worker(carriedWorker, { eval: true })
}

export interface HashPoolInit {
  /**
   * 0: no thread, jobs run on the caller's own between its other events (no isolate to
   * start, ~100 ms and ~34 MB, for work one thread does as fast as a disk reads).
   * @default os.availableParallelism(), at most 8
   */
  threads?: number
  /** Read buffer per thread, bytes. @default 8 MiB */
  bufferBytes?: number
}

/** An error a worker met on the file system, with the errno code and path kept. */
export class WorkerIoError extends Error {
  readonly code: string | undefined
  readonly path: string | undefined
  constructor(message: string, code?: string, path?: string) {
    super(message)
    this.code = code
    this.path = path
  }
}

interface Pending {
  job: WorkerJob
  resolve: (v: unknown) => void
  reject: (e: Error) => void
}

/**
 * Worker threads that read, cut and hash file ranges. Jobs queue in order and go to the
 * first free thread; `close()` ends the threads.
 */
export class HashPool {
  readonly threads: number
  readonly bufferBytes: number
  private readonly idle: Worker[] = []
  private readonly workers: Worker[] = []
  private readonly queue: Array<Pending & { id: number }> = []
  private readonly running = new Map<Worker, Pending & { id: number }>()
  private nextId = 0
  private closed = false
  /** threads 0: the last job queued here, and the runner that keeps its buffers. */
  private here = Promise.resolve()
  private runJob: ReturnType<typeof createJobRunner> | undefined

  constructor(init: HashPoolInit = {}) {
    this.threads = init.threads ?? Math.min(availableParallelism(), 8)
    this.bufferBytes = init.bufferBytes ?? 8 * 1024 * 1024
    if (!(this.threads >= 0) || !Number.isInteger(this.threads)) throw new RangeError(`threads must be a whole number >= 0, got ${this.threads}`)
    // Start the threads now: their start-up (~50 ms) overlaps the caller's own set-up.
    for (let i = 0; i < this.threads; i++) this.idle.push(this.spawn())
  }

  scan(params: ChunkingParams, req: ScanRequest): Promise<ScanResult> {
    const bufferBytes = Math.max(this.bufferBytes, 2 * params.maxSize)
    return this.submit({ kind: 'scan', params, bufferBytes, req }) as Promise<ScanResult>
  }

  /** Indexes within `req` of chunks that do not match. */
  verify(req: VerifyRangeRequest, maxChunkBytes: number): Promise<number[]> {
    const bufferBytes = Math.max(this.bufferBytes, maxChunkBytes)
    return this.submit({ kind: 'verify', bufferBytes, req }) as Promise<number[]>
  }

  async close(): Promise<void> {
    this.closed = true
    for (const p of this.queue.splice(0)) p.reject(new Error('hash pool closed'))
    await Promise.all(this.workers.splice(0).map(async (w) => w.terminate()))
    this.idle.length = 0
  }

  private submit(job: WorkerJob): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('hash pool closed'))
    if (this.threads === 0) return this.runHere(job)
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject })
      this.dispatch()
    })
  }

  /** A job of a pool of no threads: after the caller's pending events, one job at a time. */
  private async runHere(job: WorkerJob): Promise<unknown> {
    const turn = this.here.then(() => new Promise<void>((resolve) => setImmediate(resolve)))
    this.here = turn
    await turn
    if (this.closed) throw new Error('hash pool closed')
    this.runJob ??= createJobRunner()
    return this.runJob(job).result
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.workers.length < this.threads ? this.spawn() : undefined)
      if (worker === undefined) return
      const task = this.queue.shift()!
      this.running.set(worker, task)
      worker.ref() // a busy thread keeps the process alive; an idle one does not
      worker.postMessage({ id: task.id, job: task.job })
    }
  }

  private spawn(): Worker {
    const worker = startWorker()
    worker.unref()
    worker.on('message', (msg: { id: number, result?: unknown, error?: { message: string, code?: string, path?: string } }) => {
      const task = this.running.get(worker)
      this.running.delete(worker)
      worker.unref()
      this.idle.push(worker)
      if (task !== undefined) {
        if (msg.error) task.reject(new WorkerIoError(msg.error.message, msg.error.code, msg.error.path))
        else task.resolve(msg.result)
      }
      this.dispatch()
    })
    worker.on('error', (err) => {
      const task = this.running.get(worker)
      this.running.delete(worker)
      this.workers.splice(this.workers.indexOf(worker), 1)
      task?.reject(err)
      this.dispatch()
    })
    this.workers.push(worker)
    return worker
  }
}
