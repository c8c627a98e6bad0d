/**
 * Replication down hub → region → branch with real processes (a tracker, three DPs), each
 * link at one rate (16 and 32 MiB/s by default). How long until the branch holds the package, against the fluid
 * lower bound of the chain (size / link rate: the region relays pieces as they arrive, so
 * the links run in parallel; store-and-forward would take twice that)? And a version 2
 * with a few edits: the bytes crossing each link, against its new chunks.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cachedRandomFile, BIN, type BenchOutcome } from './common.ts'

const NODE = process.execPath
const MIB = 1024 ** 2
/** Both overridable (BENCH_MIB; BENCH_RATE_MIB, a comma-separated list: one chain per rate). Two links at 32 MiB/s each take both cores here (the transport at both ends of each). */
const PACKAGE_BYTES = Number(process.env.BENCH_MIB ?? 256) * MIB
const LINK_RATES = (process.env.BENCH_RATE_MIB ?? '16,32').split(',').map((r) => Number(r) * MIB)
const DPS = [{ site: 'hub', ip: '127.0.10.1' }, { site: 'region', ip: '127.0.1.1' }, { site: 'branch', ip: '127.0.2.1' }]

function cli(args: string[]): string {
  return execFileSync(NODE, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
}

/** Starts a daemon and resolves with its first JSON line. */
function daemon(args: string[], procs: ChildProcess[]): Promise<Record<string, any>> {
  const proc = spawn(NODE, [BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  procs.push(proc)
  return new Promise((resolve, reject) => {
    proc.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString().split('\n')[0]!) as Record<string, any>))
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)))
  })
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGTERM')
  await exited
}

async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json()
}

/** Adds the package and waits for every DP to seed it; returns seconds from the add to each site's copiedAt. */
async function replicate(url: string, manifest: string): Promise<{ id: string, seconds: Record<string, number> }> {
  const added = JSON.parse(cli(['package', 'add', manifest, '--tracker', url, '--token', 'admin', '--json'])) as { id: string, addedAt: string }
  const from = Date.parse(added.addedAt)
  for (let i = 0; i < 2400; i++) {
    const status = await getJson(`${url}/v1/packages/status`)
    const sites = status.packages.find((p: any) => p.id === added.id)?.sites ?? []
    const copied = DPS.slice(1).map((d) => sites.find((s: any) => s.site === d.site)?.dps[0]?.copiedAt as string | null | undefined)
    if (copied.every((c) => typeof c === 'string')) return { id: added.id, seconds: Object.fromEntries(DPS.slice(1).map((d, k) => [d.site, (Date.parse(copied[k]!) - from) / 1000])) }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error('replication did not finish in 10 minutes')
}

/** Bytes DPs sent each subnet for a package, as the tracker totals them. */
async function dpBytes(url: string, packageId: string): Promise<Record<string, number>> {
  const status = await getJson(`${url}/v1/status`)
  return Object.fromEntries(status.sites.flatMap((s: any) => s.subnets).map((n: any) => [n.subnet, n.packages.find((p: any) => p.packageId === packageId)?.dpUploadBytes ?? 0]))
}

export async function run(): Promise<BenchOutcome> {
  const rows: BenchOutcome['rows'] = []
  const data: Record<string, unknown> = { packageBytes: PACKAGE_BYTES }
  for (const rate of LINK_RATES) {
    const outcome = await chainAt(rate)
    rows.push(...outcome.rows)
    data[`${rate / MIB}MiB/s`] = outcome.data
  }
  return { rows, data }
}

/** One hub → region → branch chain with both links at `linkRate` bytes/s. */
async function chainAt(linkRate: number): Promise<BenchOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-bench-replication-'))
  const procs: ChildProcess[] = []
  try {
    const file = cachedRandomFile('pack-2GiB.bin', 2 * 1024 ** 3)
    const v1 = join(dir, 'v1')
    const v2 = join(dir, 'v2')
    for (const d of [v1, v2]) mkdirSync(d)
    execFileSync('sh', ['-c', `head -c ${PACKAGE_BYTES} '${file}' > '${v1}/install.wim' && cp '${v1}/install.wim' '${v2}/install.wim'`])
    // Version 2: 4 KiB rewritten at 16 places in the image, one new 1 MiB file (random: a file of one repeated byte is one chunk many times, and a package's own repeated chunks are each fetched: see README, Replication).
    const fd = openSync(join(v2, 'install.wim'), 'r+')
    for (let k = 0; k < 16; k++) writeSync(fd, Buffer.alloc(4096, k + 1), 0, 4096, Math.floor((k + 0.5) * PACKAGE_BYTES / 16))
    closeSync(fd)
    execFileSync('sh', ['-c', `tail -c ${MIB} '${file}' > '${v2}/drivers.cab'`])
    cli(['keygen', '--out', join(dir, 'keys')])
    cli(['swarm-key', '--out', join(dir, 'swarm.key')])
    for (const [v, src] of [['1', v1], ['2', v2]] as const) cli(['pack', src, '--name', 'win11', '--version', v, '--key', join(dir, 'keys/publisher.key'), '--out', join(dir, `v${v}.json`)])
    const diff = JSON.parse(cli(['diff', join(dir, 'v1.json'), join(dir, 'v2.json'), '--json'])) as { fetchBytes: number }

    const rate = `${linkRate / MIB}MiB/s`
    writeFileSync(join(dir, 'tracker.yaml'), `listen: 127.0.10.10:0\nadminToken: admin\ndpToken: dp\nannounceIntervalSeconds: 1\ntrust: [keys/publisher.pub]\nsites:
  - { name: hub, subnets: [127.0.10.0/24] }
  - { name: region, subnets: [127.0.1.0/24], parent: hub, link: { default: ${rate} } }
  - { name: branch, subnets: [127.0.2.0/24], parent: region, link: { default: ${rate} } }\n`)
    const { url } = await daemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--json'], procs) as { url: string }
    for (const [i, d] of DPS.entries()) {
      const publish = i === 0 ? ['--publish', join(dir, 'v1.json'), '--source', v1, '--publish', join(dir, 'v2.json'), '--source', v2] : []
      await daemon(['dp', '--data', join(dir, `dp-${d.site}`), '--swarm-key', join(dir, 'swarm.key'), '--listen', `/ip4/${d.ip}/tcp/0`, '--dial-from', d.ip,
        '--tracker', url, '--dp-token', 'dp', ...publish, '--json'], procs)
    }

    // DPs report what they sent with their next announce (every second): read after two.
    const settled = (): Promise<void> => new Promise((r) => setTimeout(r, 2500))
    const first = await replicate(url, join(dir, 'v1.json'))
    await settled()
    const bytes1 = await dpBytes(url, first.id)
    const second = await replicate(url, join(dir, 'v2.json'))
    await settled()
    const bytes2 = await dpBytes(url, second.id)
    const bound = PACKAGE_BYTES / linkRate
    const ratio = first.seconds.branch! / bound
    const links = { 'hub→region': '127.0.1.0/24', 'region→branch': '127.0.2.0/24' }
    return {
      rows: [
        { bench: 'replication', metric: `${PACKAGE_BYTES / MIB} MiB down 2 links of ${rate}`, value: `branch ${first.seconds.branch!.toFixed(1)} s (region ${first.seconds.region!.toFixed(1)} s)`, reference: `fluid bound ${bound.toFixed(1)} s`, ratio, goal: '<= 1.25', pass: ratio <= 1.25 },
        ...Object.entries(links).map(([name, subnet]) => ({
          bench: 'replication', metric: `v2 bytes ${name}`, value: `${bytes2[subnet]} B`, reference: `new chunks ${diff.fetchBytes} B`, ratio: bytes2[subnet]! / diff.fetchBytes, goal: '<= 1.1', pass: bytes2[subnet]! / diff.fetchBytes <= 1.1,
        })),
      ],
      data: { packageBytes: PACKAGE_BYTES, linkRate: linkRate, v1: { seconds: first.seconds, bytes: bytes1 }, v2: { seconds: second.seconds, bytes: bytes2, newChunkBytes: diff.fetchBytes } },
    }
  } finally {
    await Promise.all(procs.map(stop))
    rmSync(dir, { recursive: true, force: true })
  }
}
