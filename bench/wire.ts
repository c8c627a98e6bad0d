/**
 * How fast does one DP feed one client over the real stack (libp2p + noise bound to the swarm key + yamux +
 * the BitTorrent wire), against raw TCP moving the same file between two processes in the
 * same run? And when eight clients also serve each other, how much does the DP upload?
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cachedRandomFile, fmtRate, type BenchOutcome } from './common.ts'

const BIN = fileURLToPath(new URL('../bin/peerstage.ts', import.meta.url))
const NODE = process.execPath
const ONE_GIB = 1024 ** 3
const SWARM_BYTES = 256 * 1024 ** 2
const CLIENTS = 8

function cli(args: string[]): string {
  return execFileSync(NODE, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
}

function startDp(dir: string, manifest: string, source: string): Promise<{ proc: ChildProcess, address: string }> {
  const proc = spawn(NODE, [BIN, 'dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0',
    '--publish', manifest, '--source', source, '--metrics-listen', '127.0.10.1:9464', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    proc.stdout!.once('data', (d: Buffer) => resolve({ proc, address: (JSON.parse(d.toString()) as { addresses: string[] }).addresses[0]! }))
    proc.once('exit', (code) => reject(new Error(`dp exited with ${code}`)))
  })
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGTERM')
  await exited
}

/** Raw TCP between two processes: the sender streams the file, the receiver writes it to `out` (a file, or /dev/null). */
function rawTcp(file: string, out: string): number {
  const receiver = `
    const net = require('node:net'), fs = require('node:fs')
    const server = net.createServer((s) => { const t = performance.now(); const w = fs.createWriteStream(process.argv[1]);
      s.pipe(w); w.on('finish', () => { console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000 })); server.close() }) })
    server.listen(0, '127.0.10.1', () => { const { port } = server.address()
      require('node:child_process').spawn(process.execPath, ['-e', "const s=require('node:net').connect(" + port + ", '127.0.10.1', () => require('node:fs').createReadStream(process.argv[1], { highWaterMark: 1 << 20 }).pipe(s))", process.argv[2]], { stdio: 'inherit' }) })`
  const outText = execFileSync(NODE, ['-e', receiver, out, file], { encoding: 'utf8' })
  return ONE_GIB / (JSON.parse(outText) as { seconds: number }).seconds
}

async function dpUploadBytes(): Promise<number> {
  const text = await (await fetch('http://127.0.10.1:9464/metrics')).text()
  return text.split('\n').filter((l) => l.startsWith('peerstage_node_transfer_bytes_total{direction="up"')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)
}

export async function run(): Promise<BenchOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-bench-wire-'))
  const procs: ChildProcess[] = []
  try {
    const file = cachedRandomFile('pack-2GiB.bin', 2 * ONE_GIB)
    const src = join(dir, 'src')
    execFileSync('mkdir', ['-p', src])
    execFileSync('sh', ['-c', `head -c ${ONE_GIB} '${file}' > '${src}/image.wim'`])
    const swarmSrc = join(dir, 'swarm-src')
    execFileSync('mkdir', ['-p', swarmSrc])
    execFileSync('sh', ['-c', `head -c ${SWARM_BYTES} '${file}' > '${swarmSrc}/drivers.wim'`])
    cli(['keygen', '--out', join(dir, 'keys')])
    cli(['swarm-key', '--out', join(dir, 'swarm.key')])
    cli(['pack', src, '--name', 'img', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', join(dir, 'img.json')])
    cli(['pack', swarmSrc, '--name', 'drv', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', join(dir, 'drv.json')])

    const raw = rawTcp(join(src, 'image.wim'), '/dev/null')
    const rawToDisk = rawTcp(join(src, 'image.wim'), join(dir, 'raw.out'))
    rmSync(join(dir, 'raw.out'))

    const dp = await startDp(dir, join(dir, 'img.json'), src)
    procs.push(dp.proc)
    const one = JSON.parse(cli(['fetch', join(dir, 'img.json'), '--out', join(dir, 'one'), '--peer', dp.address, '--swarm-key', join(dir, 'swarm.key'), '--dial-from', '127.0.1.1', '--json'])) as { bytes: number, transferSeconds: number }
    const wire = one.bytes / one.transferSeconds
    rmSync(join(dir, 'one'), { recursive: true })
    await stop(dp.proc)

    // Eight clients on one subnet, each also listening for the others.
    const dp2 = await startDp(dir, join(dir, 'drv.json'), swarmSrc)
    procs.push(dp2.proc)
    const started = performance.now()
    const ports = Array.from({ length: CLIENTS }, (_, i) => 7200 + i)
    const results = await Promise.all(ports.map((port, i) => new Promise<number>((resolve, reject) => {
      const ip = `127.0.1.${i + 1}`
      const others = ports.filter((p) => p !== port).flatMap((p) => ['--peer', `/ip4/127.0.1.${p - 7200 + 1}/tcp/${p}`])
      const proc = spawn(NODE, [BIN, 'fetch', join(dir, 'drv.json'), '--out', join(dir, `c${i}`), '--peer', dp2.address, ...others,
        '--swarm-key', join(dir, 'swarm.key'), '--listen', `/ip4/${ip}/tcp/${port}`, '--dial-from', ip, '--seed-for', '120', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] })
      procs.push(proc)
      let out = ''
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        try {
          JSON.parse(out)
          resolve((performance.now() - started) / 1000)
        } catch { /* not whole yet */ }
      })
      proc.once('exit', (code) => { if (code !== 0) reject(new Error(`client ${i} exited with ${code}`)) })
    })))
    const seconds = Math.max(...results)
    const dpUp = await dpUploadBytes()
    const aggregate = (CLIENTS * SWARM_BYTES) / seconds
    const ratio = wire / raw
    return {
      rows: [
        { bench: 'wire', metric: 'DP → 1 client, 1 GiB', value: fmtRate(wire), reference: `raw TCP ${fmtRate(raw)}`, ratio, goal: '>= 0.5', pass: ratio >= 0.5 },
        { bench: 'wire', metric: 'DP → 1 client, 1 GiB, to disk', value: fmtRate(wire), reference: `raw TCP to a file ${fmtRate(rawToDisk)}`, ratio: wire / rawToDisk, goal: '', pass: null },
        { bench: 'wire', metric: `DP → ${CLIENTS} clients, 256 MiB`, value: `${fmtRate(aggregate)} aggregate`, reference: `last done ${seconds.toFixed(1)} s`, ratio: null, goal: '', pass: null },
        { bench: 'wire', metric: 'DP upload / package size', value: `${(dpUp / 2 ** 20).toFixed(0)} MiB`, reference: '256 MiB package', ratio: dpUp / SWARM_BYTES, goal: '1-2x, not 8x', pass: dpUp / SWARM_BYTES <= 2 },
      ],
      data: { rawTcpBytesPerSec: raw, rawTcpToDiskBytesPerSec: rawToDisk, wireBytesPerSec: wire, ratio, clients: CLIENTS, swarmBytes: SWARM_BYTES, swarmSeconds: seconds, clientSeconds: results, dpUploadBytes: dpUp },
    }
  } finally {
    await Promise.all(procs.map(stop))
    rmSync(dir, { recursive: true, force: true })
  }
}
