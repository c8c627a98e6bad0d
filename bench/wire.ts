/**
 * How does one DP → one `peerstage fetch` compare with what people would run instead, on
 * the same file in the same run: an aria2c seeder → aria2c leecher (BitTorrent, tracker
 * opentracker, torrent by mktorrent) and nginx → curl to a file? At 512 MiB and 2 GiB,
 * rounds interleaved (fetch, aria2c, curl, fetch, …) so a busy machine hurts all alike.
 *
 * Per transfer: the whole command (receiver's process start to exit; the senders already
 * run), the transfer alone (first to last byte allocated in the receiver's file, polled),
 * CPU seconds per GiB at each end (user + sys of the whole process tree: the sender's
 * during the transfer from /proc, the receiver's whole life from wait4 via /usr/bin/time)
 * and each end's peak RSS. Also raw TCP between two node processes (the floor under any
 * transfer) and eight fetches serving each other (how much the DP uploads).
 * PEERSTAGE_BENCH_WIRE_ROUNDS (default 3) and PEERSTAGE_BENCH_WIRE_MIB (default 512,2048) override.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cachedRandomFile, fmtRate, BIN, type BenchOutcome, type BenchRow } from './common.ts'
import { freePort, startProcess, type PeerProcess } from './processes.ts'
import {
  announceUrl, makeTorrent, missingTools, startAria2Leecher, startAria2Seeder, startCurl, startNginx, startTracker, watchFill, type Torrent, type Tracker,
} from './reference-peers.ts'

const NODE = process.execPath
const MIB = 2 ** 20
const GIB = 2 ** 30
const ROUNDS = Number(process.env.PEERSTAGE_BENCH_WIRE_ROUNDS ?? 3)
const SIZES = (process.env.PEERSTAGE_BENCH_WIRE_MIB ?? '512,2048').split(',').map((m) => Number(m) * MIB)
const RAW_BYTES = 512 * MIB
const SWARM_BYTES = 256 * MIB
const CLIENTS = 8
const FILE = 'image.wim'
/** Senders on 127.0.20.x, receivers dial from 127.0.21.x. */
const IP = { dp: '127.0.20.1', tracker: '127.0.20.2', seeder: '127.0.20.3', nginx: '127.0.20.4', fetch: '127.0.21.1', leecher: '127.0.21.2', curl: '127.0.21.3' }
/** Polling the receiver's file: the transfer-only figures are good to about this. */
const FILL_POLL_MS = 10

type Impl = 'fetch' | 'aria2c' | 'curl'
const LABEL: Record<Impl, { pair: string, sender: string, receiver: string }> = {
  fetch: { pair: 'DP → fetch', sender: 'DP', receiver: 'fetch' },
  aria2c: { pair: 'aria2c → aria2c', sender: 'seeder', receiver: 'leecher' },
  curl: { pair: 'nginx → curl', sender: 'nginx', receiver: 'curl' },
}

/** One transfer. Times in seconds; start-up + transfer + tail = whole. */
interface Sample {
  whole: number
  startup: number
  transfer: number
  tail: number
  senderCpu: number
  receiverCpu?: number
  receiverRss?: number
  /** fetch's own --json summary. */
  own?: unknown
}

interface Size {
  bytes: number
  src: string
  manifest: string
  packageId: string
  torrent?: Torrent
}

function cli(args: string[]): string {
  return execFileSync(NODE, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 }
const sizeName = (bytes: number): string => bytes >= GIB ? `${bytes / GIB} GiB` : `${bytes / MIB} MiB`
const mb = (bytes: number | undefined): string => bytes === undefined ? 'n/a' : `${(bytes / 1e6).toFixed(0)} MB`

/** Receiver `receiver` writing `file` while `sender` serves: the sample, once the file is whole. */
async function measure(receiver: PeerProcess, file: string, bytes: number, sender: PeerProcess, cpuBefore: number): Promise<Sample> {
  const fill = watchFill(file, bytes, receiver.exited, FILL_POLL_MS)
  const exit = await receiver.done()
  const senderCpu = sender.cpuSeconds() - cpuBefore
  const { firstAt, lastAt: seenWholeAt } = await fill
  if (firstAt === undefined || seenWholeAt === undefined) throw new Error(`${receiver.name} exited 0 but ${file} is not whole`)
  const endAt = receiver.startedAt + exit.wallSeconds * 1000
  const lastAt = Math.min(seenWholeAt, endAt) // whole by its exit, whenever the poll saw it
  return {
    whole: exit.wallSeconds,
    startup: (firstAt - receiver.startedAt) / 1000,
    transfer: (lastAt - firstAt) / 1000,
    tail: (endAt - lastAt) / 1000,
    senderCpu,
    ...(exit.cpuSeconds !== undefined && { receiverCpu: exit.cpuSeconds, receiverRss: exit.peakRssBytes }),
  }
}

function checkSize(path: string, bytes: number): void {
  const got = statSync(path).size
  if (got !== bytes) throw new Error(`${path} has ${got} bytes, not ${bytes}`)
}

/** Raw TCP between two node processes: seconds to stream `bytes` of `file` into `out` (a file, or /dev/null). */
function rawTcpSeconds(file: string, out: string): number {
  const receiver = `
    const net = require('node:net'), fs = require('node:fs')
    const server = net.createServer((s) => { const t = performance.now(); const w = fs.createWriteStream(process.argv[1]);
      s.pipe(w); w.on('finish', () => { console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000 })); server.close() }) })
    server.listen(0, '${IP.dp}', () => { const { port } = server.address()
      require('node:child_process').spawn(process.execPath, ['-e', "const s=require('node:net').connect(" + port + ", '${IP.dp}', () => require('node:fs').createReadStream(process.argv[1], { highWaterMark: 1 << 20 }).pipe(s))", process.argv[2]], { stdio: 'inherit' }) })`
  return (JSON.parse(execFileSync(NODE, ['-e', receiver, out, file], { encoding: 'utf8' })) as { seconds: number }).seconds
}

async function dpUploadBytes(metrics: string): Promise<number> {
  const text = await (await fetch(metrics)).text()
  return text.split('\n').filter((l) => l.startsWith('peerstage_node_transfer_bytes_total{direction="up"')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)
}

async function startDp(dir: string, swarmKey: string, publish: Array<[manifest: string, source: string]>, procs: PeerProcess[], metricsListen?: string): Promise<{ dp: PeerProcess, address: string }> {
  const dp = startProcess([NODE, BIN, 'dp', '--data', dir, '--swarm-key', swarmKey, '--listen', `/ip4/${IP.dp}/tcp/0`,
    ...publish.flatMap(([m, s]) => ['--publish', m, '--source', s]), ...(metricsListen === undefined ? [] : ['--metrics-listen', metricsListen]), '--json'], { name: 'peerstage dp' })
  procs.push(dp)
  const { addresses } = JSON.parse(await dp.line()) as { addresses: string[] }
  return { dp, address: addresses[0]! }
}

/** Eight fetches on one subnet, each also serving the others: seconds until the last is whole, and what the DP uploaded. */
async function swarmOfClients(dir: string, swarmKey: string, file: string, procs: PeerProcess[]): Promise<{ seconds: number, dpUp: number }> {
  const src = join(dir, 'swarm-src')
  mkdirSync(src)
  execFileSync('sh', ['-c', `head -c ${SWARM_BYTES} '${file}' > '${src}/drivers.wim'`])
  cli(['pack', src, '--name', 'drv', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', join(dir, 'drv.json')])
  const metricsPort = await freePort(IP.dp)
  const { dp, address } = await startDp(join(dir, 'dp-swarm'), swarmKey, [[join(dir, 'drv.json'), src]], procs, `${IP.dp}:${metricsPort}`)
  const ips = Array.from({ length: CLIENTS }, (_, i) => `127.0.22.${i + 1}`)
  const ports = await Promise.all(ips.map((ip) => freePort(ip)))
  const started = performance.now()
  const clients = ips.map((ip, i) => {
    const others = ips.flatMap((o, k) => k === i ? [] : ['--peer', `/ip4/${o}/tcp/${ports[k]}`])
    const p = startProcess([NODE, BIN, 'fetch', join(dir, 'drv.json'), '--out', join(dir, `swarm-${i}`), '--peer', address, ...others,
      '--swarm-key', swarmKey, '--listen', `/ip4/${ip}/tcp/${ports[i]}`, '--dial-from', ip, '--seed-for', '120', '--json'], { name: `fetch ${i}` })
    procs.push(p)
    return p
  })
  // Each prints its summary when whole, then serves the others until stopped.
  const doneAt = await Promise.all(clients.map((c) => c.line((l) => l.startsWith('{')).then(() => performance.now())))
  const seconds = (Math.max(...doneAt) - started) / 1000
  const dpUp = await dpUploadBytes(`http://${IP.dp}:${metricsPort}/metrics`)
  await Promise.all([...clients, dp].map((p) => p.stop()))
  return { seconds, dpUp }
}

export async function run(): Promise<BenchOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-bench-wire-'))
  const procs: PeerProcess[] = []
  const missing = missingTools()
  if (missing !== null) console.error(`  aria2c and nginx rows skipped: ${missing}`)
  try {
    const file = cachedRandomFile('pack-2GiB.bin', 2 * GIB)
    const swarmKey = join(dir, 'swarm.key')
    cli(['keygen', '--out', join(dir, 'keys')])
    cli(['swarm-key', '--out', swarmKey])
    const trackerPort = missing === null ? await freePort(IP.tracker) : 0
    const sizes: Size[] = []
    for (const bytes of SIZES) {
      const src = join(dir, `src-${bytes / MIB}`)
      mkdirSync(src)
      execFileSync('sh', ['-c', `head -c ${bytes} '${file}' > '${src}/${FILE}'`])
      const manifest = join(dir, `img-${bytes / MIB}.json`)
      const packed = JSON.parse(cli(['pack', src, '--name', 'img', '--version', String(bytes / MIB), '--key', join(dir, 'keys/publisher.key'), '--out', manifest, '--json'])) as { packageId: string }
      const torrent = missing === null ? await makeTorrent({ file: join(src, FILE), out: join(dir, `img-${bytes / MIB}.torrent`), announceUrl: announceUrl(IP.tracker, trackerPort) }) : undefined
      sizes.push({ bytes, src, manifest, packageId: packed.packageId, ...(torrent && { torrent }) })
    }
    let tracker: Tracker | undefined
    if (missing === null) {
      tracker = await startTracker({ dir: join(dir, 'tracker'), address: IP.tracker, port: trackerPort, infoHashes: sizes.map((s) => s.torrent!.infoHash) })
      procs.push(tracker)
    }

    const results: Array<{ bytes: number, samples: Record<Impl, Sample[]>, senderRss: Partial<Record<Impl, number>> }> = []
    for (const size of sizes) {
      const { bytes } = size
      const { dp, address } = await startDp(join(dir, `dp-${bytes / MIB}`), swarmKey, [[size.manifest, size.src]], procs)
      const senders: Partial<Record<Impl, PeerProcess>> = { fetch: dp }
      let fileUrl = ''
      if (tracker !== undefined) {
        const seeder = await startAria2Seeder({ torrent: size.torrent!, dir: size.src, address: IP.seeder })
        procs.push(seeder)
        senders.aria2c = seeder
        const nginx = await startNginx({ root: size.src, dir: join(dir, `nginx-${bytes / MIB}`), address: IP.nginx })
        procs.push(nginx)
        senders.curl = nginx
        fileUrl = nginx.url(FILE)
        await tracker.waitForSeeders(size.torrent!.infoHash)
      }
      const impls = Object.keys(senders) as Impl[]
      const samples: Record<Impl, Sample[]> = { fetch: [], aria2c: [], curl: [] }
      for (let round = 0; round < ROUNDS; round++) {
        for (const impl of impls) {
          const sender = senders[impl]!
          const out = join(dir, `recv-${impl}`)
          const cpuBefore = sender.cpuSeconds()
          let s: Sample
          if (impl === 'fetch') {
            const p = startProcess([NODE, BIN, 'fetch', size.manifest, '--out', out, '--peer', address, '--swarm-key', swarmKey, '--dial-from', IP.fetch, '--json'], { timed: true, name: 'peerstage fetch' })
            procs.push(p)
            s = await measure(p, join(out, '.peerstage', 'staging', size.packageId, FILE), bytes, sender, cpuBefore)
            s.own = JSON.parse((await p.exited).stdout)
          } else if (impl === 'aria2c') {
            const p = await startAria2Leecher({ torrent: size.torrent!, dir: out, address: IP.leecher, timed: true })
            procs.push(p)
            s = await measure(p, p.file, bytes, sender, cpuBefore)
          } else {
            const p = startCurl({ url: fileUrl, out: join(out, FILE), address: IP.curl, timed: true })
            procs.push(p)
            s = await measure(p, join(out, FILE), bytes, sender, cpuBefore)
          }
          checkSize(join(out, FILE), bytes)
          rmSync(out, { recursive: true, force: true })
          samples[impl].push(s)
          console.error(`  ${sizeName(bytes)} round ${round + 1} ${LABEL[impl].pair}: whole ${s.whole.toFixed(2)} s (start-up ${s.startup.toFixed(2)}, transfer ${s.transfer.toFixed(2)}, tail ${s.tail.toFixed(2)}), CPU ${s.senderCpu.toFixed(2)} + ${s.receiverCpu?.toFixed(2) ?? 'n/a'} s, RSS ${mb(s.receiverRss)}`)
        }
      }
      const senderRss = Object.fromEntries(impls.map((i) => [i, senders[i]!.peakRssBytes()]))
      await Promise.all(impls.map((i) => senders[i]!.stop()))
      results.push({ bytes, samples, senderRss })
    }
    await tracker?.stop()

    const raw = RAW_BYTES / rawTcpSeconds(join(sizes[0]!.src, FILE), '/dev/null')
    const rawToDisk = RAW_BYTES / rawTcpSeconds(join(sizes[0]!.src, FILE), join(dir, 'raw.out'))
    rmSync(join(dir, 'raw.out'))
    const swarm = await swarmOfClients(dir, swarmKey, file, procs)

    const rows: BenchRow[] = []
    const summaries: Record<string, unknown> = {}
    for (const { bytes, samples, senderRss } of results) {
      const name = sizeName(bytes)
      const stat = (impl: Impl) => {
        const ss = samples[impl]
        const gib = bytes / GIB
        const pick = (f: (s: Sample) => number | undefined): number[] => ss.map(f).filter((x): x is number => x !== undefined)
        return {
          wholeMin: Math.min(...pick((s) => s.whole)), wholeMedian: median(pick((s) => s.whole)),
          transferMin: Math.min(...pick((s) => s.transfer)), transferMedian: median(pick((s) => s.transfer)),
          startupMedian: median(pick((s) => s.startup)), tailMedian: median(pick((s) => s.tail)),
          senderCpuPerGiB: median(pick((s) => s.senderCpu)) / gib,
          receiverCpuPerGiB: ss[0]?.receiverCpu === undefined ? undefined : median(pick((s) => s.receiverCpu)) / gib,
          receiverRss: ss[0]?.receiverRss === undefined ? undefined : Math.max(...pick((s) => s.receiverRss)),
          senderRss: senderRss[impl],
        }
      }
      const f = stat('fetch')
      const others = (['aria2c', 'curl'] as const).filter((i) => samples[i].length > 0).map((i) => [i, stat(i)] as const)
      summaries[name] = { bytes, fetch: f, ...Object.fromEntries(others), samples }
      const rate = (seconds: number): string => fmtRate(bytes / seconds)
      const speed = (best: number, med: number): string => `${rate(med)} (best ${rate(best)}), ${med.toFixed(2)} s`
      const goal512 = bytes === 512 * MIB
      for (const [impl, goal] of [['aria2c', 1], ['curl', 0.5]] as const) {
        const o = others.find(([i]) => i === impl)?.[1]
        const ref = o === undefined ? `${LABEL[impl].pair}: not run (${missing})` : undefined
        const whole = o === undefined ? null : o.wholeMedian === 0 ? null : o.wholeMedian / f.wholeMedian
        rows.push({ bench: 'wire', metric: `${name} whole command, median`, value: `fetch ${speed(f.wholeMin, f.wholeMedian)}`,
          reference: ref ?? `${LABEL[impl].pair} ${speed(o!.wholeMin, o!.wholeMedian)}`, ratio: whole,
          goal: goal512 ? `>= ${goal}${impl === 'aria2c' ? ' (aim 2)' : ''}` : '', pass: goal512 && whole !== null ? whole >= goal : null })
        rows.push({ bench: 'wire', metric: `${name} transfer only (first → last byte on disk)`, value: `fetch ${speed(f.transferMin, f.transferMedian)}`,
          reference: ref ?? `${LABEL[impl].pair} ${speed(o!.transferMin, o!.transferMedian)}`, ratio: o === undefined ? null : o.transferMedian / f.transferMedian, goal: '', pass: null })
      }
      const phases = (s: ReturnType<typeof stat>): string => `${s.startupMedian.toFixed(2)} + ${s.transferMedian.toFixed(2)} + ${s.tailMedian.toFixed(2)} s`
      rows.push({ bench: 'wire', metric: `${name} start-up + transfer + tail, median`, value: `fetch ${phases(f)}`,
        reference: others.map(([i, o]) => `${LABEL[i].receiver} ${phases(o)}`).join('; '), ratio: null, goal: '', pass: null })
      const cpu = (s: ReturnType<typeof stat>): number | undefined => s.receiverCpuPerGiB === undefined ? undefined : s.senderCpuPerGiB + s.receiverCpuPerGiB
      const cpuText = (i: Impl, s: ReturnType<typeof stat>): string => `${LABEL[i].sender} ${s.senderCpuPerGiB.toFixed(2)} + ${LABEL[i].receiver} ${s.receiverCpuPerGiB?.toFixed(2) ?? 'n/a'}`
      const aria = others.find(([i]) => i === 'aria2c')?.[1]
      rows.push({ bench: 'wire', metric: `${name} CPU-s/GiB sender + receiver, median`, value: cpuText('fetch', f),
        reference: others.map(([i, o]) => cpuText(i, o)).join('; '), ratio: aria === undefined || cpu(f) === undefined || cpu(aria) === undefined ? null : cpu(f)! / cpu(aria)!, goal: '', pass: null })
      rows.push({ bench: 'wire', metric: `${name} peak RSS sender / receiver`, value: `DP ${mb(f.senderRss)} / fetch ${mb(f.receiverRss)}`,
        reference: others.map(([i, o]) => `${LABEL[i].sender} ${mb(o.senderRss)} / ${LABEL[i].receiver} ${mb(o.receiverRss)}`).join('; '),
        ratio: null, goal: 'fetch <= 200 MB', pass: f.receiverRss === undefined ? null : f.receiverRss <= 200e6 })
    }
    const small = summaries[sizeName(results[0]!.bytes)] as { fetch: { transferMedian: number } }
    const fetchTransfer = results[0]!.bytes / small.fetch.transferMedian
    rows.push(
      { bench: 'wire', metric: `${sizeName(results[0]!.bytes)} DP → fetch transfer only`, value: fmtRate(fetchTransfer), reference: `raw TCP ${fmtRate(raw)}`, ratio: fetchTransfer / raw, goal: '>= 0.5', pass: fetchTransfer / raw >= 0.5 },
      { bench: 'wire', metric: `${sizeName(results[0]!.bytes)} DP → fetch transfer only, to disk`, value: fmtRate(fetchTransfer), reference: `raw TCP to a file ${fmtRate(rawToDisk)}`, ratio: fetchTransfer / rawToDisk, goal: '', pass: null },
      { bench: 'wire', metric: `DP → ${CLIENTS} clients, ${sizeName(SWARM_BYTES)}`, value: `${fmtRate((CLIENTS * SWARM_BYTES) / swarm.seconds)} aggregate`, reference: `last done ${swarm.seconds.toFixed(1)} s`, ratio: null, goal: '', pass: null },
      { bench: 'wire', metric: 'DP upload / package size', value: `${(swarm.dpUp / MIB).toFixed(0)} MiB`, reference: `${sizeName(SWARM_BYTES)} package`, ratio: swarm.dpUp / SWARM_BYTES, goal: '1-2x, not 8x', pass: swarm.dpUp / SWARM_BYTES <= 2 },
    )
    return {
      rows,
      data: { rounds: ROUNDS, sizes: summaries, rawTcpBytesPerSec: raw, rawTcpToDiskBytesPerSec: rawToDisk, clients: CLIENTS, swarmBytes: SWARM_BYTES, swarmSeconds: swarm.seconds, dpUploadBytes: swarm.dpUp, referenceToolsMissing: missing },
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
}
