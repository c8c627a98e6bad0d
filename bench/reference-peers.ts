/**
 * The programs benches measure peerstage against, each started as an operator would start
 * it: opentracker, mktorrent, an aria2c seeder and leecher (BitTorrent, no payload
 * encryption, no DHT/PEX/LPD), nginx serving a directory, curl writing a file.
 *
 * Every launcher takes a `Placement`: a command prefix (e.g. `['ip', 'netns', 'exec',
 * 'branch1']`), the address to bind and the port to listen on, and returns a `PeerProcess`
 * (processes.ts) whose `stop()` ends its whole process tree.
 *
 * A bench installs nothing: `missingTools()` gives the apt-get line to print instead.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { freePort, startProcess, TIME, toolPath, type Exit, type PeerProcess } from './processes.ts'

/** Each program a reference peer needs, and the Debian package that brings it. */
const TOOLS = { aria2c: 'aria2', opentracker: 'opentracker', mktorrent: 'mktorrent', nginx: 'nginx', curl: 'curl', time: 'time' } as const
type Tool = keyof typeof TOOLS
/** The packages named whenever any tool is missing; `curl` and `time` only when they are. */
const INSTALL = ['aria2', 'opentracker', 'mktorrent', 'nginx']

/** Where a process runs. */
export interface Placement {
  /** Words put before the command, e.g. `['ip', 'netns', 'exec', 'branch1']`. @default [] */
  prefix?: string[]
  /** Address it binds (listens on and dials from, where the program allows). @default '127.0.0.1' */
  address?: string
  /** TCP port it listens on. @default a free one on `address`, asked in this process's network namespace: pass one for another namespace */
  port?: number
}

function need(tool: Tool): string {
  const path = tool === 'time' ? TIME() : toolPath(tool)
  if (path === undefined) throw new Error(`${tool} is not installed: ${missingTools()}`)
  return path
}

/** Null when every reference program is here; else the line that installs them. */
export function missingTools(): string | null {
  const missing = (Object.keys(TOOLS) as Tool[]).filter((t) => (t === 'time' ? TIME() : toolPath(t)) === undefined)
  if (missing.length === 0) return null
  const extra = missing.map((t) => TOOLS[t]).filter((p) => !INSTALL.includes(p))
  return `apt-get install -y ${[...INSTALL, ...extra].join(' ')}`
}

/** Runs `argv` (prefixed) to its end; stdout as a Buffer. */
function run(argv: string[], prefix: string[] = []): Promise<Buffer> {
  const all = [...prefix, ...argv]
  return new Promise((resolve, reject) => execFile(all[0]!, all.slice(1), { encoding: 'buffer', maxBuffer: 1 << 24 }, (err, out, errOut) => {
    if (err) reject(new Error(`${all.join(' ')}: ${errOut.toString().trim() || err.message}`))
    else resolve(out)
  }))
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, proc: PeerProcess | undefined, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = performance.now() + timeoutMs
  let exited = false
  void proc?.exited.then(() => { exited = true })
  for (;;) {
    const got = await probe()
    if (got !== undefined) return got
    if (exited) throw new Error(`${what}: ${proc!.name} exited first: ${(await proc!.exited).stderrTail.trim()}`)
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(50)
  }
}

/** Where a bencoded value starting at `i` ends. */
function bencodeEnd(b: Buffer, i: number): number {
  const c = b[i]
  if (c === 0x69) return b.indexOf(0x65, i) + 1 // i<int>e
  if (c === 0x6c || c === 0x64) { // l…e, d…e
    for (i++; b[i] !== 0x65; i = bencodeEnd(b, i)) if (i >= b.length) throw new RangeError('truncated bencode')
    return i + 1
  }
  const colon = b.indexOf(0x3a, i)
  return colon + 1 + Number(b.toString('latin1', i, colon))
}

/** The SHA-1 of a .torrent's bencoded info dictionary, hex. */
export function infoHashOf(torrent: Buffer): string {
  for (let i = 1; torrent[i] !== 0x65 && i < torrent.length;) {
    const keyEnd = bencodeEnd(torrent, i)
    const key = torrent.toString('latin1', torrent.indexOf(0x3a, i) + 1, keyEnd)
    const valueEnd = bencodeEnd(torrent, keyEnd)
    if (key === 'info') return createHash('sha1').update(torrent.subarray(keyEnd, valueEnd)).digest('hex')
    i = valueEnd
  }
  throw new RangeError('no info dictionary in the torrent')
}

export const announceUrl = (address: string, port: number): string => `http://${address}:${port}/announce`

export interface Torrent {
  path: string
  /** Hex. */
  infoHash: string
  /** The file's name in the torrent (its basename). */
  name: string
  pieceLength: number
}

export interface TorrentInit {
  /** The one file the torrent describes. */
  file: string
  /** Where the .torrent goes (replaced). */
  out: string
  announceUrl: string
  /** @default 20 (1 MiB pieces) */
  pieceLengthLog2?: number
  prefix?: string[]
}

/** `mktorrent` of one file. */
export async function makeTorrent(init: TorrentInit): Promise<Torrent> {
  const log2 = init.pieceLengthLog2 ?? 20
  rmSync(init.out, { force: true })
  await run([need('mktorrent'), '-a', init.announceUrl, '-l', String(log2), '-o', init.out, init.file], init.prefix)
  return { path: init.out, infoHash: infoHashOf(readFileSync(init.out)), name: basename(init.file), pieceLength: 2 ** log2 }
}

export interface TrackerInit extends Placement {
  /** Its own directory (it chroots there as root, and keeps its whitelist there). */
  dir: string
  /** Hex info hashes it serves: Debian's opentracker is built to serve only its whitelist. */
  infoHashes: string[]
}

export interface Tracker extends PeerProcess {
  address: string
  port: number
  announceUrl: string
  /** Seeders and leechers it lists for a torrent (scrape, run with the tracker's prefix). */
  scrape(infoHash: string): Promise<{ complete: number, incomplete: number }>
  /** Resolves once it lists `n` seeders of the torrent. */
  waitForSeeders(infoHash: string, n?: number, timeoutMs?: number): Promise<void>
}

/** opentracker on `address:port` (TCP and UDP), serving `infoHashes`. Resolves once it answers. */
export async function startTracker(init: TrackerInit): Promise<Tracker> {
  const address = init.address ?? '127.0.0.1'
  const port = init.port ?? await freePort(address)
  mkdirSync(init.dir, { recursive: true })
  chmodSync(init.dir, 0o755) // its root after chroot, read as 'nobody'
  writeFileSync(join(init.dir, 'whitelist.txt'), init.infoHashes.map((h) => `${h}\n`).join(''), { mode: 0o644 })
  const proc = startProcess([need('opentracker'), '-i', address, '-p', String(port), '-P', String(port), '-d', init.dir, '-w', 'whitelist.txt'],
    { prefix: init.prefix, cwd: init.dir, name: 'opentracker' })
  const base = `http://${address}:${port}`
  const scrape = async (infoHash: string): Promise<{ complete: number, incomplete: number }> => {
    const q = infoHash.replace(/../g, (h) => `%${h}`)
    const body = (await run([need('curl'), '-sS', '--noproxy', '*', '--max-time', '5', `${base}/scrape?info_hash=${q}`], init.prefix)).toString('latin1')
    const n = (k: string): number => Number(new RegExp(`${k}i(\\d+)e`).exec(body)?.[1] ?? 0)
    return { complete: n('8:complete'), incomplete: n('10:incomplete') }
  }
  try {
    await until('opentracker answering', proc, 10_000, () => scrape('00'.repeat(20)).then(() => true, () => undefined))
  } catch (err) {
    await proc.stop()
    throw err
  }
  return Object.assign(proc, {
    address,
    port,
    announceUrl: announceUrl(address, port),
    scrape,
    async waitForSeeders(infoHash: string, n = 1, timeoutMs = 20_000) {
      await until(`${n} seeder(s) on the tracker`, proc, timeoutMs, async () => (await scrape(infoHash)).complete >= n ? true : undefined)
    },
  })
}

/** aria2c for BitTorrent only: no DHT, PEX or LPD (peers from the tracker), no payload encryption, no config file. */
function aria2cArgs(address: string, port: number): string[] {
  return [need('aria2c'), '--no-conf=true', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
    '--bt-require-crypto=false', '--bt-min-crypto-level=plain', '--disable-ipv6=true', `--interface=${address}`, `--listen-port=${port}`,
    '--console-log-level=warn', '--summary-interval=0', '--show-console-readout=false', '--auto-save-interval=0', '--bt-save-metadata=false',
    '--allow-overwrite=true', '--auto-file-renaming=false']
}

export interface Aria2SeederInit extends Placement {
  torrent: Torrent
  /** The directory holding the torrent's file, as named in it. */
  dir: string
  /** Hash the file before seeding (what a cautious operator does). @default false: seeded as is */
  verify?: boolean
  timed?: boolean
}

/** An aria2c seeding `dir/<torrent name>` until stopped. Wait for it with the tracker's waitForSeeders. */
export async function startAria2Seeder(init: Aria2SeederInit): Promise<PeerProcess & { port: number }> {
  const address = init.address ?? '127.0.0.1'
  const port = init.port ?? await freePort(address)
  const proc = startProcess([...aria2cArgs(address, port), `--dir=${init.dir}`, '--seed-ratio=0.0', `--bt-seed-unverified=${init.verify !== true}`,
    `--check-integrity=${init.verify === true}`, init.torrent.path], { prefix: init.prefix, timed: init.timed, name: 'aria2c seeder' })
  return Object.assign(proc, { port })
}

export interface Aria2LeecherInit extends Placement {
  torrent: Torrent
  /** Where the file is written, as `dir/<torrent name>`. */
  dir: string
  /** Keep seeding this long after completing (a swarm member); 0 exits once the file is whole. @default 0 */
  seedSeconds?: number
  /** aria2c's --file-allocation. @default 'none': the file fills as pieces land (falloc was no faster here) */
  fileAllocation?: 'none' | 'prealloc' | 'trunc' | 'falloc'
  timed?: boolean
}

/** An aria2c downloading the torrent into `dir`, exiting 0 once complete (and seeded `seedSeconds`). */
export async function startAria2Leecher(init: Aria2LeecherInit): Promise<PeerProcess & { port: number, file: string }> {
  const address = init.address ?? '127.0.0.1'
  const port = init.port ?? await freePort(address)
  mkdirSync(init.dir, { recursive: true })
  const seed = init.seedSeconds ?? 0
  const proc = startProcess([...aria2cArgs(address, port), `--dir=${init.dir}`, `--file-allocation=${init.fileAllocation ?? 'none'}`,
    `--seed-time=${seed / 60}`, ...(seed > 0 ? ['--seed-ratio=0.0'] : []), init.torrent.path], { prefix: init.prefix, timed: init.timed, name: 'aria2c leecher' })
  return Object.assign(proc, { port, file: join(init.dir, init.torrent.name) })
}

export interface NginxInit extends Placement {
  /** The directory it serves at /. */
  root: string
  /** Its own directory: config, pid file, logs, temp paths. */
  dir: string
  /** @default 1 */
  workerProcesses?: number
}

/** nginx in the foreground (`daemon off;`) with its own config, serving `root` with sendfile. Resolves once it listens. */
export async function startNginx(init: NginxInit): Promise<PeerProcess & { port: number, url: (path: string) => string }> {
  const address = init.address ?? '127.0.0.1'
  const port = init.port ?? await freePort(address)
  const d = init.dir
  mkdirSync(d, { recursive: true })
  const conf = `daemon off;
master_process on;
worker_processes ${init.workerProcesses ?? 1};
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path ${d}/client_body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  server {
    listen ${address}:${port};
    root ${init.root};
  }
}
`
  writeFileSync(join(d, 'nginx.conf'), conf)
  rmSync(join(d, 'nginx.pid'), { force: true })
  const proc = startProcess([need('nginx'), '-p', d, '-e', join(d, 'error.log'), '-c', join(d, 'nginx.conf')], { prefix: init.prefix, name: 'nginx' })
  try {
    // nginx writes its pid file once its sockets listen.
    await until('nginx listening', proc, 10_000, () => existsSync(join(d, 'nginx.pid')) ? true : undefined)
  } catch (err) {
    await proc.stop()
    throw err
  }
  return Object.assign(proc, { port, url: (path: string) => `http://${address}:${port}/${path.replace(/^\//, '')}` })
}

export interface CurlInit {
  url: string
  /** The file written. */
  out: string
  prefix?: string[]
  /** Source address. @default the system's choice */
  address?: string
  timed?: boolean
}

/** curl downloading `url` to `out`; its stdout is `curlTimes`' input. */
export function startCurl(init: CurlInit): PeerProcess {
  mkdirSync(dirname(init.out), { recursive: true })
  return startProcess([need('curl'), '-sS', '--fail', '--noproxy', '*', ...(init.address === undefined ? [] : ['--interface', init.address]),
    '-o', init.out, '-w', '%{time_starttransfer} %{time_total} %{size_download}\\n', init.url], { prefix: init.prefix, timed: init.timed, name: 'curl' })
}

/** curl's own account: seconds to the first byte of the body, to the end, and bytes. */
export function curlTimes(exit: Exit): { firstByteSeconds: number, totalSeconds: number, bytes: number } {
  const [first, total, bytes] = exit.stdout.trim().split(' ').map(Number)
  return { firstByteSeconds: first!, totalSeconds: total!, bytes: bytes! }
}

/**
 * Watches a file being written (in any order) by its allocated blocks, every `everyMs`:
 * resolves with when its first byte and its last (`bytes` allocated) reached the disk
 * (performance.now() times), or with what it saw when `until` settles first. The file may
 * not exist yet, and it must start sparse or absent (aria2c --file-allocation=none, curl,
 * peerstage's staging).
 */
export function watchFill(path: string, bytes: number, until: Promise<unknown>, everyMs = 20): Promise<{ firstAt?: number, lastAt?: number }> {
  return new Promise((resolve) => {
    let firstAt: number | undefined
    let done = false
    void until.finally(() => { done = true })
    const tick = (): void => {
      let allocated = 0
      try {
        allocated = statSync(path).blocks * 512
      } catch { /* not yet */ }
      const now = performance.now()
      if (allocated > 0) firstAt ??= now
      if (allocated >= bytes) return resolve({ firstAt, lastAt: now })
      if (done) return resolve({ firstAt })
      setTimeout(tick, everyMs)
    }
    tick()
  })
}
