/**
 * The programs benches measure peerstage against, each started as an operator would start
 * it: opentracker, mktorrent, an aria2c seeder and leecher (BitTorrent, no payload
 * encryption, no DHT/PEX/LPD), nginx serving a directory, curl writing a file.
 *
 * Every launcher takes a `Placement`: a command prefix (e.g. `['ip', 'netns', 'exec',
 * 'branch1']`), the address to bind and the port to listen on, and returns a `PeerProcess`
 * whose `stop()` ends its whole process tree (it runs in a process group of its own; one
 * still alive when this process exits is killed then). `startProcess` does the same for any
 * command, e.g. `peerstage dp`. CPU and peak RSS come from /proc while a process lives
 * (`cpuSeconds()`, `peakRssBytes()`), and from /usr/bin/time's wait4 rusage when it exits
 * (`timed: true`): both cover the whole tree.
 *
 * A bench installs nothing: `missingTools()` gives the apt-get line to print instead.
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'

/** Each program a reference peer needs, and the Debian package that brings it. */
const TOOLS = { aria2c: 'aria2', opentracker: 'opentracker', mktorrent: 'mktorrent', nginx: 'nginx', curl: 'curl', time: 'time' } as const
type Tool = keyof typeof TOOLS
/** The packages named whenever any tool is missing; `curl` and `time` only when they are. */
const INSTALL = ['aria2', 'opentracker', 'mktorrent', 'nginx']
const TIME_FORMAT = '%e %U %S %M'
/** How long stop() waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3000
/** Keep at most this much of a process's stdout (JSON results are small), and this much of stderr's end. */
const STDOUT_MAX = 1 << 20
const STDERR_TAIL = 8192
const CLK_TCK = 100 // USER_HZ: what /proc/PID/stat counts in on Linux, whatever the kernel's HZ

/** Where a process runs. */
export interface Placement {
  /** Words put before the command, e.g. `['ip', 'netns', 'exec', 'branch1']`. @default [] */
  prefix?: string[]
  /** Address it binds (listens on and dials from, where the program allows). @default '127.0.0.1' */
  address?: string
  /** TCP port it listens on. @default a free one on `address`, asked in this process's network namespace: pass one for another namespace */
  port?: number
}

/** How a process ended. */
export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  /** The last 8 KiB of its stderr. */
  stderrTail: string
  /** Spawn to exit, as seen here. */
  wallSeconds: number
  /** User + system CPU of the process and every descendant it reaped (wait4 rusage, via /usr/bin/time); only when `timed`. */
  cpuSeconds?: number
  /** Peak RSS of the largest process of the tree (ru_maxrss); only when `timed`. */
  peakRssBytes?: number
}

export interface PeerProcess {
  readonly name: string
  /** Its process group id, the pid of the first program spawned (prefix or /usr/bin/time included). */
  readonly pid: number
  /** performance.now() when it was spawned. */
  readonly startedAt: number
  /** Settles when it exits, whatever the code; never rejects. */
  readonly exited: Promise<Exit>
  /** Its exit, rejecting with the command, code and stderr's end unless the code was 0. */
  done(): Promise<Exit>
  /** The first stdout line `match` accepts; rejects if it exits first. */
  line(match?: (line: string) => boolean): Promise<string>
  /** User + system CPU seconds so far of the live tree, children it reaped included (/proc). */
  cpuSeconds(): number
  /** Sum over the live tree of each process's peak RSS (VmHWM), bytes. */
  peakRssBytes(): number
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it exited. Safe twice. */
  stop(graceMs?: number): Promise<void>
}

export interface ProcessInit {
  /** @default [] */
  prefix?: string[]
  cwd?: string
  /** In errors. @default the command's basename */
  name?: string
  /** Run it under /usr/bin/time, so `Exit` carries the tree's CPU and peak RSS (when /usr/bin/time exists). @default false */
  timed?: boolean
  env?: NodeJS.ProcessEnv
}

/** A program's full path (PATH, then the sbin directories root's PATH has); undefined when absent. */
export function toolPath(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin']
  for (const d of dirs.filter(Boolean)) {
    try {
      accessSync(join(d, name), constants.X_OK)
      return join(d, name)
    } catch { /* not here */ }
  }
  return undefined
}

const TIME = (): string | undefined => toolPath('/usr/bin/time')
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

/** A TCP port nothing listens on at `address` now, in this process's network namespace. */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

// Process groups still running: killed when this process exits, or at once on a signal, after
// which nothing new starts and the signal is raised again 5 s later (time for the callers'
// `finally` to remove their files, their awaits having failed with the killed processes).
const live = new Set<number>()
let guarded = false
let interrupted: NodeJS.Signals | undefined
function guard(): void {
  if (interrupted !== undefined) throw new Error(`interrupted by ${interrupted}`)
  if (guarded) return
  guarded = true
  const killAll = (): void => { for (const pgid of live) killGroup(pgid, 'SIGKILL') }
  process.on('exit', killAll)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      interrupted = sig
      killAll()
      setTimeout(() => { killAll(); process.kill(process.pid, sig) }, 5000).unref()
    })
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch { /* gone */ }
}

interface ProcStat { pid: number, ppid: number, ticks: number }

function readStat(pid: string): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ') // from field 3, state
    return { pid: Number(pid), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) }
  } catch {
    return undefined
  }
}

/** `root` and every live descendant. */
function tree(root: number): ProcStat[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(readStat).filter((s) => s !== undefined)
  const children = new Map<number, ProcStat[]>()
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s])
  const out = all.filter((s) => s.pid === root)
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!.pid) ?? []))
  return out
}

function peakKiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
    return m === null ? 0 : Number(m[1])
  } catch {
    return 0
  }
}

/** Starts `command` (prefixed) in a process group of its own. */
export function startProcess(command: string[], init: ProcessInit = {}): PeerProcess {
  guard()
  const name = init.name ?? basename(command[0]!)
  const time = init.timed === true ? TIME() : undefined
  const timeDir = time === undefined ? undefined : mkdtempSync(join(tmpdir(), 'peerstage-time-'))
  const timeFile = timeDir === undefined ? '' : join(timeDir, 'rusage')
  const argv = [...(time === undefined ? [] : [time, '-f', TIME_FORMAT, '-o', timeFile]), ...(init.prefix ?? []), ...command]
  const started = performance.now()
  const proc = spawn(argv[0]!, argv.slice(1), { cwd: init.cwd, env: init.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const pid = proc.pid
  let stdout = ''
  let stderr = ''
  const waiters: Array<{ match: (l: string) => boolean, resolve: (l: string) => void }> = []
  let partial = ''
  proc.stdout.on('data', (d: Buffer) => {
    const text = d.toString()
    if (stdout.length < STDOUT_MAX) stdout += text
    partial += text
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      const line = partial.slice(0, i)
      partial = partial.slice(i + 1)
      for (const w of waiters.filter((x) => x.match(line))) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(line)
      }
    }
  })
  proc.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-STDERR_TAIL) })
  if (pid !== undefined) live.add(pid)
  let wallSeconds = 0
  proc.once('exit', () => {
    wallSeconds = (performance.now() - started) / 1000
    if (pid !== undefined) killGroup(pid, 'SIGKILL') // anything it left behind
  })
  const exited = new Promise<Exit>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (pid !== undefined) live.delete(pid)
      const exit: Exit = { code, signal, stdout, stderrTail: stderr, wallSeconds }
      if (timeDir !== undefined) {
        try {
          const last = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
          if (last.length === 4 && last.every(Number.isFinite)) Object.assign(exit, { cpuSeconds: last[1]! + last[2]!, peakRssBytes: last[3]! * 1024 })
        } catch { /* killed before it wrote */ }
        rmSync(timeDir, { recursive: true, force: true })
      }
      resolve(exit)
    }
    proc.once('error', (err) => { stderr += String(err); finish(null, null) })
    proc.once('close', finish)
  })

  const describe = (e: Exit): string => `${name} (${argv.join(' ')}) exited with ${e.code ?? e.signal}${e.stderrTail.trim() === '' ? '' : `: ${e.stderrTail.trim().split('\n').slice(-5).join(' | ')}`}`
  let stopping: Promise<void> | undefined
  return {
    name,
    pid: pid ?? -1,
    startedAt: started,
    exited,
    async done() {
      const e = await exited
      if (e.code !== 0) throw new Error(describe(e))
      return e
    },
    line(match = () => true) {
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve })
        void exited.then((e) => reject(new Error(`${describe(e)} before printing the line awaited`)))
      })
    },
    cpuSeconds: () => pid === undefined ? 0 : tree(pid).reduce((n, s) => n + s.ticks, 0) / CLK_TCK,
    peakRssBytes: () => pid === undefined ? 0 : tree(pid).reduce((n, s) => n + peakKiB(s.pid), 0) * 1024,
    stop(graceMs = STOP_GRACE_MS) {
      stopping ??= (async () => {
        if (pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return void await exited
        killGroup(pid, 'SIGTERM')
        const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs)
        await exited
        clearTimeout(timer)
      })()
      return stopping
    },
  }
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
