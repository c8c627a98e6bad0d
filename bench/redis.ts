/** A redis-server for the benches that measure tracker replicas: from Debian, never installed here. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startProcess, toolPath, type PeerProcess } from './processes.ts'

export const REDIS_MISSING = 'redis-server not found: apt-get install -y redis-server (its rows are skipped)'

export interface BenchRedis {
  url: string
  proc: PeerProcess
  stop: () => Promise<void>
}

/**
 * redis-server on 127.0.0.1 and a free port, append-only with `appendfsync everysec` (the
 * README's middle setting), pinned with `prefix` (taskset) when given; undefined when the
 * binary is missing.
 */
export async function startBenchRedis(prefix: string[] = []): Promise<BenchRedis | undefined> {
  const bin = toolPath('redis-server')
  if (bin === undefined) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-bench-redis-'))
  const port = await freePort()
  const proc = startProcess([bin, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--daemonize', 'no'], { prefix, name: 'redis-server' })
  await proc.line((l) => l.includes('Ready to accept connections'))
  return {
    url: `redis://127.0.0.1:${port}/0`,
    proc,
    stop: async () => {
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
