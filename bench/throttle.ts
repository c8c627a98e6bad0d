/**
 * Does a token bucket hold a real TCP transfer to its configured rate, over the whole run
 * and in its worst 100 ms and 1 s windows? And how fast does a schedule boundary bite?
 */
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { applySchedule, parseSchedule, TokenBucket } from '../bandwidth/index.ts'
import { windowExtremes, worst, type BenchOutcome, type BenchRow } from './common.ts'

const WRITE_BYTES = 64 * 1024
const CAPACITY_BYTES = 256 * 1024
const RUN_MS = 10_000
const BIN_MS = 10

interface Receiver {
  port: number
  /** Bytes received per BIN_MS since `reset()`. */
  bins: number[]
  reset(): number
  close(): void
}

async function startReceiver(): Promise<Receiver> {
  let t0 = performance.now()
  const bins: number[] = []
  const server = createServer((socket) => {
    socket.on('data', (d: Buffer) => {
      const bin = Math.floor((performance.now() - t0) / BIN_MS)
      while (bins.length <= bin) bins.push(0)
      bins[bin]! += d.length
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    bins,
    reset() {
      bins.length = 0
      t0 = performance.now()
      return t0
    },
    close: () => server.close(),
  }
}

async function pushFor(socket: Socket, bucket: TokenBucket, ms: number): Promise<void> {
  const block = Buffer.alloc(WRITE_BYTES, 0x5a)
  const end = performance.now() + ms
  while (performance.now() < end) {
    await bucket.take(WRITE_BYTES)
    if (!socket.write(block)) await new Promise((r) => socket.once('drain', r))
  }
}


async function steadyRate(receiver: Receiver, rate: number): Promise<Record<string, number>> {
  const socket = connect({ host: '127.0.0.1', port: receiver.port })
  await new Promise((r) => socket.once('connect', r))
  const bucket = new TokenBucket({ rateBytesPerSec: rate, capacityBytes: CAPACITY_BYTES })
  receiver.reset()
  await pushFor(socket, bucket, RUN_MS)
  socket.destroy()
  const bins = receiver.bins.slice(0, RUN_MS / BIN_MS)
  const total = bins.reduce((a, b) => a + b, 0)
  const perBin = (rate * BIN_MS) / 1000
  return {
    rate,
    wholeRun: total / (rate * (RUN_MS / 1000)),
    worst100ms: worst(windowExtremes(bins, 100 / BIN_MS, perBin)),
    worst1s: worst(windowExtremes(bins, 1000 / BIN_MS, perBin)),
  }
}

/** 10 MB/s, then a schedule boundary to 2 MB/s: how long does the old rate linger? */
async function scheduleSwitch(receiver: Receiver): Promise<Record<string, number>> {
  const socket = connect({ host: '127.0.0.1', port: receiver.port })
  await new Promise((r) => socket.once('connect', r))
  const bucket = new TokenBucket({ rateBytesPerSec: 10e6, capacityBytes: CAPACITY_BYTES })
  const schedule = parseSchedule({ default: '2MB/s', windows: ['00:00-00:01 10MB/s'] }, 'bench')
  const t0 = receiver.reset()
  // A wall clock that reaches the 00:01 boundary 3 s into the run.
  const wallStart = Date.UTC(2026, 10, 23, 0, 0, 57)
  let appliedAt = 0
  const stop = applySchedule({ setRate: (r) => { bucket.setRate(r); if (r === 2e6) appliedAt = performance.now() - t0 } }, [schedule],
    { now: () => new Date(wallStart + (performance.now() - t0)) })
  await pushFor(socket, bucket, 5000)
  stop()
  socket.destroy()
  const switchBin = 3000 / BIN_MS
  // Bytes beyond 2 MB/s after the boundary, expressed as time at the old 10 MB/s.
  const after = receiver.bins.slice(switchBin, switchBin + 1000 / BIN_MS).reduce((a, b) => a + b, 0)
  const excess = Math.max(0, after - 2e6)
  return { timerLateMs: appliedAt - 3000, lingerMs: (excess / (10e6 - 2e6)) * 1000 }
}

export async function run(): Promise<BenchOutcome> {
  const receiver = await startReceiver()
  try {
    const rows: BenchRow[] = []
    const steady = []
    for (const rate of [1e6, 10e6, 100e6]) {
      const r = await steadyRate(receiver, rate)
      steady.push(r)
      const label = `${rate / 1e6} MB/s`
      rows.push({ bench: 'throttle', metric: `${label} whole run (10 s)`, value: `${((r.wholeRun! * rate) / 1e6).toFixed(4)} MB/s`, reference: label, ratio: r.wholeRun!, goal: 'within 1 %', pass: Math.abs(r.wholeRun! - 1) <= 0.01 })
      rows.push({ bench: 'throttle', metric: `${label} worst 1 s window`, value: '', reference: label, ratio: r.worst1s!, goal: 'within 5 %', pass: Math.abs(r.worst1s! - 1) <= 0.05 })
      rows.push({ bench: 'throttle', metric: `${label} worst 100 ms window`, value: '', reference: label, ratio: r.worst100ms!, goal: '', pass: null })
    }
    const sw = await scheduleSwitch(receiver)
    rows.push({ bench: 'throttle', metric: 'schedule 10→2 MB/s takes effect', value: `${sw.lingerMs!.toFixed(1)} ms`, reference: `timer late ${sw.timerLateMs!.toFixed(1)} ms`, ratio: null, goal: '<= 100 ms', pass: sw.lingerMs! <= 100 })
    return { rows, data: { writeBytes: WRITE_BYTES, capacityBytes: CAPACITY_BYTES, runMs: RUN_MS, steady, scheduleSwitch: sw } }
  } finally {
    receiver.close()
  }
}
