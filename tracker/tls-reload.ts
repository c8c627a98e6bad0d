import { unwatchFile, watchFile, type Stats } from 'node:fs'
import type { Server as HttpsServer } from 'node:https'
import type { Logger } from '../common/index.ts'
import { readTlsPair, type TlsFiles } from './secrets.ts'

export interface TlsReloaderInit {
  /** How often the files' change times are looked at, ms. @default 2000 */
  pollMs?: number
  logger?: Logger
}

/**
 * Keeps an HTTPS server's certificate current: `reload()` (the tracker calls it on SIGHUP)
 * and any change of the cert or key file read the pair again and give it to new
 * connections; open connections keep theirs, so no node is dropped. A pair that does not load
 * (half written, a key of another certificate) is refused with a warning naming why, and the
 * old pair stays. Files are polled by path (fs.watchFile), so a rename or symlink swap, as
 * certbot and Kubernetes secrets do, is seen as well as an edit in place.
 */
export class TlsReloader {
  private readonly server: HttpsServer
  private readonly files: TlsFiles
  private readonly log: Logger | undefined
  private readonly onChange: (now: Stats, before: Stats) => void
  private closed = false

  constructor(server: HttpsServer, files: TlsFiles, init: TlsReloaderInit = {}) {
    this.server = server
    this.files = files
    this.log = init.logger
    this.onChange = (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) this.reload('file change')
    }
    const options = { interval: init.pollMs ?? 2000, persistent: false }
    watchFile(files.certFile, options, this.onChange)
    watchFile(files.keyFile, options, this.onChange)
  }

  /** Loads the pair from the files; false (and a warning) when it does not load: the old one stays. */
  reload(why = 'SIGHUP'): boolean {
    if (this.closed) return false
    try {
      const pair = readTlsPair(this.files)
      this.server.setSecureContext({ cert: pair.cert, key: pair.key })
      this.log?.info({ cert: this.files.certFile, why }, 'tracker TLS certificate reloaded: new connections get it')
      return true
    } catch (err) {
      this.log?.warn({ cert: this.files.certFile, why, err: (err as Error).message }, 'tracker TLS certificate not reloaded, the old one stays')
      return false
    }
  }

  close(): void {
    this.closed = true
    unwatchFile(this.files.certFile, this.onChange)
    unwatchFile(this.files.keyFile, this.onChange)
  }
}
