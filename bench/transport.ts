/**
 * What does proving swarm membership cost per byte, and what would moving the bulk bytes beside
 * libp2p cost? One process sends 512 MiB to another over each candidate of
 * transport-candidates.ts (TCP + membership check + noise + yamux, one libp2p stream; the same
 * with bigger yamux windows; or a TLS 1.3 connection keyed by a one-use secret handed over on a
 * libp2p stream) and over raw TCP, the reference, round-robin so a busy machine hurts all alike.
 * Reports CPU seconds of both processes per GiB (the figure that matters on a shared DP) and
 * MB/s, min and median over the rounds. PEERSTAGE_BENCH_TRANSPORT_MIB, _ROUNDS and _VARIANTS
 * (a comma-separated subset) override.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { fmtRate, type BenchOutcome } from './common.ts'
import { VARIANTS } from './transport-candidates.ts'

const PEER = fileURLToPath(new URL('./transport-peer.ts', import.meta.url))
const BYTES = Number(process.env.PEERSTAGE_BENCH_TRANSPORT_MIB ?? 512) * 2 ** 20
const ROUNDS = Number(process.env.PEERSTAGE_BENCH_TRANSPORT_ROUNDS ?? 3)
/** A comma-separated subset of VARIANTS to run (raw TCP always runs). @default all */
const ONLY = process.env.PEERSTAGE_BENCH_TRANSPORT_VARIANTS?.split(',')
const ONE_GIB = 2 ** 30

interface Run { cpuSecondsPerGiB: number, bytesPerSec: number }

/** Each JSON line the process prints, in order, and its exit. */
function peer(args: string[], onLine: (o: Record<string, unknown>) => void): Promise<void> {
  const proc = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let buf = ''
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString()
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      onLine(JSON.parse(buf.slice(0, i)) as Record<string, unknown>)
      buf = buf.slice(i + 1)
    }
  })
  return new Promise((resolve, reject) => proc.once('exit', (code) => code === 0 ? resolve() : reject(new Error(`transport-peer ${args.join(' ')} exited with ${code}`))))
}

async function once(variant: string): Promise<Run> {
  let serverCpuUs = 0
  let fetched: { bytes: number, seconds: number, cpuUs: number } | undefined
  const address = Promise.withResolvers<string>()
  const server = peer(['serve', variant, String(BYTES)], (o) => {
    if (typeof o.address === 'string') address.resolve(o.address)
    else serverCpuUs = o.cpuUs as number
  })
  server.catch(address.reject)
  const client = peer(['fetch', variant, await address.promise], (o) => { fetched = o as typeof fetched })
  await Promise.all([server, client])
  if (fetched?.bytes !== BYTES) throw new Error(`${variant}: fetched ${fetched?.bytes} of ${BYTES} bytes`)
  return { cpuSecondsPerGiB: (serverCpuUs + fetched.cpuUs) / 1e6 / (BYTES / ONE_GIB), bytesPerSec: BYTES / fetched.seconds }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 }

export async function run(): Promise<BenchOutcome> {
  const unknown = ONLY?.filter((v) => !(VARIANTS as readonly string[]).includes(v)) ?? []
  if (unknown.length > 0) throw new RangeError(`PEERSTAGE_BENCH_TRANSPORT_VARIANTS: unknown ${unknown.join(', ')}; known: ${VARIANTS.join(', ')}`)
  const variants = ['tcp', ...VARIANTS.filter((v) => ONLY === undefined || ONLY.includes(v))]
  const runs = new Map<string, Run[]>(variants.map((v) => [v, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const r = await once(v)
      runs.get(v)!.push(r)
      console.error(`  round ${round + 1} ${v}: ${r.cpuSecondsPerGiB.toFixed(2)} CPU-s/GiB, ${fmtRate(r.bytesPerSec)}`)
    }
  }
  const summary = Object.fromEntries(variants.map((v) => {
    const cpu = runs.get(v)!.map((r) => r.cpuSecondsPerGiB)
    const rate = runs.get(v)!.map((r) => r.bytesPerSec)
    return [v, { cpuSecondsPerGiBMin: Math.min(...cpu), cpuSecondsPerGiBMedian: median(cpu), bytesPerSecMax: Math.max(...rate), bytesPerSecMedian: median(rate), runs: runs.get(v)! }]
  }))
  const tcp = summary.tcp!
  return {
    rows: variants.filter((v) => v !== 'tcp').map((v) => {
      const s = summary[v]!
      return {
        bench: 'transport',
        metric: `${v}, ${BYTES / 2 ** 20} MiB, CPU-s/GiB min/median; MB/s median`,
        value: `${s.cpuSecondsPerGiBMin.toFixed(2)}/${s.cpuSecondsPerGiBMedian.toFixed(2)} CPU-s; ${fmtRate(s.bytesPerSecMedian)}`,
        reference: `raw TCP ${tcp.cpuSecondsPerGiBMedian.toFixed(2)} CPU-s; ${fmtRate(tcp.bytesPerSecMedian)}`,
        ratio: s.bytesPerSecMedian / tcp.bytesPerSecMedian,
        goal: '',
        pass: null,
      }
    }),
    data: { bytes: BYTES, rounds: ROUNDS, summary },
  }
}
