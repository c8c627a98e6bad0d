import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { Redis } from 'ioredis'
import { withoutFaketime } from './env.ts'

/** redis-server from the distribution, else the first on PATH. */
const REDIS_SERVER = ['/usr/bin/redis-server', ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'redis-server'))].find((p) => existsSync(p))

/** For `describe.skipIf(redisMissing)`: Redis tests are skipped, with one line saying how to install it. */
export const redisMissing = REDIS_SERVER === undefined
if (redisMissing) console.log('redis-server not found: apt-get install -y redis-server')

export interface RunningRedis {
  url: string
  port: number
  dir: string
  /** SIGTERM, then removes its directory; safe to call twice. */
  stop: () => Promise<void>
  /** SIGKILL: Redis gone at once, as in a crash; the directory stays for restart(). */
  kill: () => Promise<void>
  /** Starts it again on the same port and directory (it reloads its append-only file). */
  restart: () => Promise<void>
  /** Sends one command (`['HGETALL', 'peerstage:lease']`) on a connection of its own; Redis's reply as ioredis gives it. */
  command: (args: string[]) => Promise<any>
}

/** Every redis-server still running, killed when the test process exits however it exits. */
const running = new Set<ChildProcess>()
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })

/** A real redis-server on 127.0.0.1 and a free port, in its own temporary directory; resolves once it answers PING. */
export async function startRedis(options: { appendonly?: boolean } = {}): Promise<RunningRedis> {
  if (REDIS_SERVER === undefined) throw new Error('redis-server not found: apt-get install -y redis-server')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no',
    ...(options.appendonly ?? true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])]
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const c = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'], env: withoutFaketime() })
    let output = ''
    c.stdout!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000) })
    c.stderr!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000) })
    running.add(c)
    c.once('exit', () => running.delete(c))
    child = c
    await answersPing(port, c, () => output)
  }
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child
    child = undefined
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill(signal)
    await exited
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    dir,
    stop: async () => {
      await end('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGTERM')
      await start()
    },
    command: async ([name, ...rest]) => {
      const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      try {
        await client.connect()
        return await client.call(name!, ...rest)
      } finally {
        client.disconnect()
      }
    },
  }
}

/** A port the OS says is free now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once the server on `port` answers PING; rejects with its output when it exits first or after 10 s. */
async function answersPing(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${output()}`)
    if (await ping(port)) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  child.kill('SIGKILL')
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s: ${output()}`)
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let reply = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d: Buffer) => {
      reply += d.toString()
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}
