import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createProgress, endStatusLine, formatLogLine, RateWindow, writeLine } from '../../common/index.ts'

/** A terminal stand-in that records what is written: unit tests only (test/cli/terminal-output.test.ts uses a real pty). */
function fakeTerminal(isTTY = true, columns = 200): NodeJS.WriteStream & { output: string } {
  const t = { isTTY, columns, output: '', write(s: string) { t.output += s; return true } }
  return t as unknown as NodeJS.WriteStream & { output: string }
}

/** Lines a real pino logger writes, as the JSON it hands its destination. */
function pinoLines(log: (logger: pino.Logger) => void): string[] {
  const lines: string[] = []
  const logger = pino({ base: { pid: process.pid } }, { write: (s: string) => { lines.push(s) } }).child({ module: 'announcer' })
  log(logger)
  return lines
}

describe('formatLogLine: one readable line per pino entry', () => {
  const tz = process.env.TZ
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ
    else process.env.TZ = tz
  })

  it('shows local time, level, module, message, then the other fields as key=value', () => {
    process.env.TZ = 'Asia/Kolkata' // UTC+05:30: a UTC time would be off by half an hour
    const [line] = pinoLines((l) => l.warn({ url: 'http://127.0.10.10:7070', retryAfterSeconds: 5, note: 'two words' }, 'no tracker answers'))
    const time = JSON.parse(line!).time as number
    const local = new Date(time + 5.5 * 3600_000)
    const hhmm = `${String(local.getUTCHours()).padStart(2, '0')}:${String(local.getUTCMinutes()).padStart(2, '0')}`
    const text = formatLogLine(line!)
    expect(text).toMatch(new RegExp(`^${hhmm}:\\d\\d\\.\\d{3} WARN  \\[announcer\\] no tracker answers  url=http://127\\.0\\.10\\.10:7070 retryAfterSeconds=5 note="two words"$`))
    expect(text).not.toContain('pid=')
    expect(text).not.toContain(String(time))
  })

  it('gives an error its message (and code), never its stack, and keeps a multi-line message on one line', () => {
    const lines = pinoLines((l) => {
      l.error({ err: new Error('connect ECONNREFUSED 127.0.0.1:1') }, 'poll failed')
      l.error({ err: Object.assign(new Error('disk full'), { code: 'PEERSTAGE_NODE_STORE_DISK_FULL' }) }, 'write failed')
      l.info('first\nsecond')
    })
    const texts = lines.map((l) => formatLogLine(l))
    expect(texts[0]).toMatch(/ ERROR \[announcer\] poll failed {2}err="connect ECONNREFUSED 127\.0\.0\.1:1"$/)
    expect(texts[1]).toMatch(/ err="disk full \(PEERSTAGE_NODE_STORE_DISK_FULL\)"$/)
    expect(texts[2]).toMatch(/ INFO {2}\[announcer\] first\\nsecond$/)
    for (const t of texts) expect(t).not.toContain('\n')
  })

  it('colours the level only when asked, and passes a line that is not JSON through', () => {
    const [line] = pinoLines((l) => l.warn('slow'))
    expect(formatLogLine(line!, { color: true })).toContain('\x1b[33mWARN \x1b[0m')
    expect(formatLogLine(line!)).not.toContain('\x1b[')
    expect(formatLogLine('not json\n')).toBe('not json')
  })
})

describe('RateWindow: a smoothed rate, none before a second of samples', () => {
  it('shows no rate for a first sample of a few MiB in a millisecond (the pack bar read 504.6 GiB/s)', () => {
    const w = new RateWindow()
    w.add(0, 0)
    w.add(1, 64 * 1024 * 1024)
    expect(w.rate()).toBeUndefined()
    w.add(999, 64 * 1024 * 1024)
    expect(w.rate()).toBeUndefined()
    w.add(1000, 100 * 1024 * 1024)
    expect(w.rate()).toBe(100 * 1024 * 1024)
  })

  it('counts only bytes done after the first sample (resumed bytes are no rate)', () => {
    const w = new RateWindow()
    w.add(0, 500_000_000)
    w.add(2000, 520_000_000)
    expect(w.rate()).toBe(10_000_000)
  })

  it('moves little on one burst after a steady run, and follows a lasting change within the window', () => {
    const w = new RateWindow()
    let bytes = 0
    for (let t = 0; t <= 10_000; t += 200) w.add(t, bytes += 2_000_000) // 10 MB/s
    expect(w.rate()).toBeCloseTo(10_000_000, -4)
    w.add(10_200, bytes += 20_000_000) // one 200 ms sample at 100 MB/s
    expect(w.rate()).toBeLessThan(15_000_000)
    for (let t = 10_400; t <= 16_000; t += 200) w.add(t, bytes += 200_000) // 1 MB/s from now on
    expect(w.rate()).toBeCloseTo(1_000_000, -4)
  })
})

describe('createProgress on a terminal', () => {
  it('draws on a TTY only: nothing on a pipe or a file', () => {
    const pipe = fakeTerminal(false)
    const bar = createProgress({ label: 'packing', totalBytes: 100, stream: pipe })
    bar.update(50)
    bar.done()
    expect(pipe.output).toBe('')
  })

  it('draws nothing in the background of its terminal', () => {
    const tty = fakeTerminal()
    const bar = createProgress({ label: 'packing', totalBytes: 100, stream: tty, inForeground: () => false })
    bar.update(50)
    bar.done()
    expect(tty.output).toBe('')
  })

  it('shows no rate or ETA on its first draw, then the rate of the window', () => {
    const tty = fakeTerminal()
    let now = 0
    const bar = createProgress({ label: 'packing', totalBytes: 100 * 1024 * 1024, stream: tty, now: () => now, inForeground: () => true })
    bar.update(10 * 1024 * 1024)
    expect(tty.output).toMatch(/^\r\x1b\[Kpacking \[#{2}-{22}\] 10\.0% 10\.0 MiB\/100\.0 MiB --\/s ETA --$/)
    now = 2000
    bar.update(30 * 1024 * 1024)
    expect(tty.output).toMatch(/ 30\.0 MiB\/100\.0 MiB 10\.0 MiB\/s ETA 7s$/)
  })

  it('keeps log lines above it: a line clears the bar, and the bar is drawn again below', () => {
    const tty = fakeTerminal()
    const bar = createProgress({ label: 'fetching', totalBytes: 100, stream: tty, inForeground: () => true, detail: () => '2 peers' })
    bar.update(40)
    const drawn = tty.output.slice('\r\x1b[K'.length)
    tty.output = ''
    writeLine('12:00:00.000 WARN  [node] peer dropped', tty)
    expect(tty.output).toBe(`\r\x1b[K12:00:00.000 WARN  [node] peer dropped\n${drawn}`)
    expect(drawn).toMatch(/^fetching \[.*\] 40\.0% .* 2 peers$/)
    bar.done()
    expect(tty.output.endsWith('\n')).toBe(true)
    tty.output = ''
    writeLine('after', tty) // the bar is gone: an ordinary line
    expect(tty.output).toBe('after\n')
  })

  it('ends a bar cut short by a failure on its own line, so the reason is printed below it', () => {
    const tty = fakeTerminal()
    createProgress({ label: 'fetching', totalBytes: 100, stream: tty, inForeground: () => true }).update(40)
    endStatusLine(tty, true) // what the CLI does before printing an error
    writeLine('peerstage fetch: nothing arrived', tty)
    expect(tty.output).toMatch(/^\r\x1b\[Kfetching \[.*\] 40\.0% .*\npeerstage fetch: nothing arrived\n$/)
  })

  it('never draws wider than the terminal (a wrapped bar would leave a line behind at each redraw)', () => {
    const tty = fakeTerminal(true, 40)
    createProgress({ label: 'fetching', totalBytes: 100, stream: tty, inForeground: () => true }).update(1)
    expect(tty.output.slice('\r\x1b[K'.length)).toHaveLength(39)
  })
})
