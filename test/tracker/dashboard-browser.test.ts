import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cliTrackerWithPackages, peerstage, startDaemon } from '../helpers/cli.ts'
import { withoutFaketime } from '../helpers/env.ts'
import { PEERSTAGE_VERSION } from '../../common/index.ts'

/** Debian's chromium (no browser download): PEERSTAGE_CHROMIUM, or chromium on the PATH. */
const CHROMIUM = [process.env.PEERSTAGE_CHROMIUM, ...(process.env.PATH ?? '').split(delimiter).flatMap((d) => [join(d, 'chromium'), join(d, 'chromium-browser')])]
  .find((p) => p !== undefined && p !== '' && existsSync(p))
if (CHROMIUM === undefined) console.log('chromium not found: apt-get install -y chromium')

const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url))
const TOKEN = 's3cret'
const CONFIG = `adminToken: ${TOKEN}
dpToken: dp-s3cret
announceIntervalSeconds: 1
sites:
  - name: hq
    subnets: [127.0.10.0/24]
  - name: leeds
    parent: hq
    timezone: Europe/London
    subnets: [127.0.1.0/24, 127.0.2.0/24]
    wan: { default: unlimited, windows: ['Mon-Fri 08:00-18:00 2Mbit/s', 'Sat-Sun 00:00-06:00 10MiB/s'] }
    link: { windows: ['Mon-Fri 09:00-17:00 1MiB/s'] }
`

/** The page polls every 2 s: allow a few polls. */
const poll = <T>(fn: () => T | Promise<T>, timeout = 10_000) => expect.poll(fn, { timeout })

const daemons: Array<() => Promise<void>> = []
let browser: Browser | undefined
let url = ''
let deploymentId = ''
let dpPeerId = ''

async function throttle(site: string): Promise<{ effective: { windows: string[] } }> {
  const res = await fetch(`${url}/v1/throttle?site=${site}`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return res.json() as Promise<{ effective: { windows: string[] } }>
}

describe.skipIf(CHROMIUM === undefined)('the dashboard in a real browser (tracker, DP and client processes)', () => {
  beforeAll(async () => {
    const w = await cliTrackerWithPackages(CONFIG, (stop) => daemons.push(stop))
    url = w.url
    expect((await peerstage(['swarm-key', '--out', join(w.dir, 'swarm.key')])).code).toBe(0)
    const dp = startDaemon(['dp', '--data', join(w.dir, 'dp'), '--swarm-key', join(w.dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0', '--dial-from', '127.0.10.1',
      '--publish', w.manifest, '--source', join(w.dir, 'imaging-src'), '--tracker', url, '--dp-token', 'dp-s3cret', '--json'])
    daemons.push(dp.stop)
    dpPeerId = (await dp.ready).peerId as string
    const now = Date.now()
    const created = await peerstage(['deploy', 'create', '--tracker', url, '--token', TOKEN, '--manifest', w.manifest, '--program', 'install', '--target', 'site:leeds',
      '--available', new Date(now + 1000).toISOString(), '--mandatory', new Date(now + 8 * 3_600_000).toISOString(), '--json'])
    expect(created.code, created.stderr).toBe(0)
    deploymentId = JSON.parse(created.stdout).id as string
    const client = startDaemon(['client', '--tracker', url, '--data', join(w.dir, 'client'), '--swarm-key', join(w.dir, 'swarm.key'), '--trust', join(w.dir, 'imaging-keys/publisher.pub'),
      '--listen', '/ip4/127.0.1.5/tcp/0', '--dial-from', '127.0.1.5', '--json'])
    daemons.push(client.stop)
    await client.ready
    // Chromium keeps the real clock when the suite runs under faketime (it crawls under it); the page judges times by the tracker's.
    browser = await chromium.launch({ executablePath: CHROMIUM, env: withoutFaketime() })
  }, 60_000)

  afterEach(async () => {
    for (const c of browser?.contexts() ?? []) await c.close()
  })
  afterAll(async () => {
    await browser?.close()
    await Promise.all(daemons.splice(0).map((stop) => stop()))
  })

  /** The document's width: wider than the screen means sideways scrolling. */
  const pageWidth = (page: Page): Promise<number> => page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)

  async function open(width: number, height: number): Promise<{ page: Page, shipped: Map<string, number> }> {
    const context = await browser!.newContext({ viewport: { width, height } })
    const page = await context.newPage()
    const shipped = new Map<string, number>()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('response', async (res) => {
      if (!res.url().includes('/v1/')) shipped.set(new URL(res.url()).pathname, (await res.body()).length)
    })
    await page.goto(url)
    await page.getByRole('heading', { name: 'Site hq → leeds (Europe/London)' }).waitFor()
    expect(errors).toEqual([])
    return { page, shipped }
  }

  it('shows the real sites, budgets, deployment, content and nodes, live, at 1280 × 800', async () => {
    const { page, shipped } = await open(1280, 800)
    const status = await (await fetch(`${url}/v1/status`)).json() as { sites: Array<{ subnets: Array<{ subnet: string, budget: { rule: string, decidedBy: string } }> }> }
    const leeds = status.sites[1]!.subnets[0]!
    const sites = page.locator('#sites')
    await poll(() => sites.getByRole('row').filter({ hasText: leeds.subnet }).innerText()).toContain(leeds.budget.rule)
    expect(await sites.getByRole('row').filter({ hasText: leeds.subnet }).innerText()).toContain(leeds.budget.decidedBy)
    expect(await sites.innerText()).toMatch(/Link from hq: .* by (default|unlimited \(no rule\)|Mon-Fri 09:00-17:00 1MiB\/s)/)
    // From the second poll on, each subnet's WAN rate is measured against its budget.
    await poll(() => sites.getByRole('row').filter({ hasText: leeds.subnet }).locator('td').last().innerText()).toMatch(/^[\d.]+ (B|KiB|MiB)\/s( \(\d+ % of budget\))?/)

    // The client pre-stages the deployment from the hq DP: the views follow without a reload.
    const deployments = page.locator('#deployments')
    await poll(() => deployments.innerText(), 30_000).toMatch(new RegExp(`${deploymentId} win11@24H2[\\s\\S]*1 verified`))
    expect(await deployments.innerText()).toMatch(/127\.0\.1\.0\/24/)
    expect(await deployments.innerText()).toMatch(/No failures\./)
    await poll(() => page.locator('#content').innerText()).toMatch(new RegExp(`win11@24H2[\\s\\S]*hq\\s+…${dpPeerId.slice(-8)}\\s+127\\.0\\.10\\.0/24\\s+seeding`))
    const nodes = await page.locator('#nodes').innerText()
    // Role, name (the host name by default), peer, version, problem (none), site, subnet.
    expect(nodes).toMatch(new RegExp(`DP\\s+\\S+\\s+…${dpPeerId.slice(-8)}\\s+${PEERSTAGE_VERSION.replace(/\./g, '\\.')}\\s+hq\\s+127\\.0\\.10\\.0/24`))
    await poll(() => page.locator('#nodes').innerText()).toMatch(/client\s+\S+\s+…\S+\s+\S+\s+leeds\s+127\.0\.1\.0\/24\s+127\.0\.1\.5/)
    // The client's WAN bytes reach the chart's history within a sample or two (every 5 s).
    await poll(() => page.locator('#traffic .note').innerText(), 15_000).toMatch(/^Sampled every 5 s[\s\S]*leeds WAN [1-9][\d.]* KiB/)
    await poll(() => page.locator('#traffic canvas').count(), 20_000).toBeGreaterThan(0) // from the third sample

    // Schedules: the week of the site's first scope, in its zone.
    await page.getByLabel('Scope').selectOption('site=leeds')
    await poll(() => page.locator('#schedules .timeline').innerText()).toMatch(/for site leeds, in Europe\/London/)
    expect(await page.locator('#schedules .in-force').innerText()).toContain(`by ${leeds.budget.decidedBy} rule ${leeds.budget.rule}.`)
    expect(await page.locator('#schedules .windows').innerText()).toMatch(/#1\s+site\s+Mon-Fri 08:00-18:00 2Mbit\/s\s+244\.14 KiB\/s\s+50\.0 h/)
    await page.getByLabel('Scope').selectOption('link=leeds')
    await poll(() => page.locator('#schedules .windows').innerText()).toMatch(/#1\s+link\s+Mon-Fri 09:00-17:00 1MiB\/s/)

    const firstRenderMs = await page.evaluate(() => (globalThis as unknown as { peerstageFirstRender: number }).peerstageFirstRender)
    const raw = [...shipped.values()].reduce((a, b) => a + b, 0)
    const files = [...shipped.keys()]
    expect(files).toEqual(expect.arrayContaining(['/', '/dashboard/app.js', '/dashboard/style.css', '/dashboard/vendor/uPlot.iife.min.js']))
    const gzip = await Promise.all(files.map(async (f) => gzipSync(Buffer.from(await (await fetch(`${url}${f}`)).arrayBuffer())).length))
    console.log(`dashboard page weight: ${raw} bytes in ${files.length} files (${gzip.reduce((a, b) => a + b, 0)} gzipped); first render with data ${Math.round(firstRenderMs)} ms after navigation`)
    mkdirSync(RESULTS, { recursive: true }) // a clean clone has none until vitest's report
    writeFileSync(join(RESULTS, 'dashboard-weight.json'), JSON.stringify({ bytes: raw, gzipBytes: gzip.reduce((a, b) => a + b, 0), files: Object.fromEntries(shipped), firstRenderMs }, null, 2))
    await page.getByLabel('Scope').selectOption('site=leeds')
    await page.screenshot({ path: join(RESULTS, 'dashboard-1280x800.png') })
    await page.locator('#schedules').scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(RESULTS, 'dashboard-schedules-1280x800.png') })
  }, 60_000)

  it('edits a site\'s windows in the timeline through the admin API; an invalid window shows the API\'s error and changes nothing', async () => {
    const { page } = await open(1280, 800)
    await page.getByLabel('Scope').selectOption('site=leeds')
    await poll(() => page.locator('#schedules .windows').innerText()).toMatch(/sign in to edit/)
    expect(await page.getByRole('button', { name: 'Edit #1' }).count()).toBe(0)

    await page.getByLabel('Admin token').fill(TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Edit #1' }).click()
    await page.getByLabel('Window', { exact: true }).fill('Mon-Fri 09:00-17:00 4Mbit/s')
    await page.getByRole('button', { name: 'Save window' }).click()
    await poll(async () => (await throttle('leeds')).effective.windows).toEqual(['Mon-Fri 09:00-17:00 4Mbit/s', 'Sat-Sun 00:00-06:00 10MiB/s'])
    await poll(() => page.locator('#schedules .windows').innerText()).toMatch(/#1\s+site\s+Mon-Fri 09:00-17:00 4Mbit\/s\s+488\.28 KiB\/s\s+40\.0 h/)

    await page.getByRole('button', { name: 'Edit #2' }).click()
    await page.getByLabel('Window', { exact: true }).fill('Sat-Sun 00:00-06:00 10MiB/sec')
    await page.getByRole('button', { name: 'Save window' }).click()
    await poll(() => page.getByRole('alert').innerText()).toMatch(/^⚠?\s*Not saved: .*10MiB\/sec.* \(PEERSTAGE_TRACKER_BAD_REQUEST\)$/)
    expect((await throttle('leeds')).effective.windows).toEqual(['Mon-Fri 09:00-17:00 4Mbit/s', 'Sat-Sun 00:00-06:00 10MiB/s'])
    await page.getByRole('button', { name: 'Cancel' }).click()

    await page.getByLabel('Window', { exact: true }).fill('Wed 12:00-13:00 0')
    await page.getByRole('button', { name: 'Add window' }).click()
    await poll(async () => (await throttle('leeds')).effective.windows).toHaveLength(3)
    await poll(() => page.locator('#schedules .timeline').innerText()).toMatch(/site: 0 \(closed\) \(Wed 12:00-13:00 0\)/)
    await page.getByRole('button', { name: 'Delete #3' }).click()
    await poll(async () => (await throttle('leeds')).effective.windows).toEqual(['Mon-Fri 09:00-17:00 4Mbit/s', 'Sat-Sun 00:00-06:00 10MiB/s'])

    // A subnet's own window, over its site's all week; the site's stay listed, beaten.
    await page.getByLabel('Scope').selectOption('subnet=127.0.2.0/24')
    await poll(() => page.locator('#schedules .timeline').innerText()).toMatch(/for subnet 127\.0\.2\.0\/24/)
    await page.getByLabel('Window', { exact: true }).fill('Mon-Sun 00:00-24:00 0')
    await page.getByRole('button', { name: 'Add window' }).click()
    await poll(() => page.locator('#schedules .windows').innerText()).toMatch(/#1\s+subnet\s+Mon-Sun 00:00-24:00 0\s+0 \(closed\)\s+16[78]\.0 h[\s\S]*#2\s+site\s+Mon-Fri 09:00-17:00 4Mbit\/s\s+488\.28 KiB\/s\s+never \(beaten\)/)
    const subnet = await (await fetch(`${url}/v1/throttle?subnet=127.0.2.0/24`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { budgetNow: { decidedBy: string, rateBytesPerSec: number } }
    expect(subnet.budgetNow).toMatchObject({ decidedBy: 'subnet', rateBytesPerSec: 0 })
  }, 60_000)

  it('reads a tracker with a dashboardToken once signed in with it', async () => {
    const guarded = await cliTrackerWithPackages(`${CONFIG}dashboardToken: dash\n`, (stop) => daemons.push(stop))
    const page = await (await browser!.newContext({ viewport: { width: 1280, height: 800 } })).newPage()
    await page.goto(guarded.url)
    await poll(() => page.locator('#updated').innerText()).toMatch(/^Sign in to read: reading the tracker \(viewerToken\) needs 'Authorization: Bearer TOKEN'/)
    expect(await page.locator('#sites').innerText()).not.toContain('leeds')
    await page.getByLabel('Admin token').fill('dash')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Site hq → leeds (Europe/London)' }).waitFor()
    await poll(() => page.locator('#updated').innerText()).toMatch(/^Updated /)
    await poll(() => page.locator('#nodes').innerText()).not.toMatch(/Could not load/)
  }, 30_000)

  it('fits a 390-pixel-wide phone screen, and is reached by keyboard', async () => {
    const { page } = await open(390, 844)
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent)).toBe('Sites')
    await page.getByLabel('Admin token').focus()
    await page.keyboard.type(TOKEN)
    await page.keyboard.press('Enter')
    await poll(() => page.locator('#signin-state').innerText()).toBe('Signed in: changes use this token.')
    expect(await pageWidth(page)).toBeLessThanOrEqual(390)
    await page.getByLabel('Scope').selectOption('site=leeds')
    await poll(() => page.locator('#schedules .timeline').innerText()).toMatch(/for site leeds/)
    await page.screenshot({ path: join(RESULTS, 'dashboard-phone-390.png'), fullPage: true })
    expect(await pageWidth(page)).toBeLessThanOrEqual(390)
  }, 30_000)
})
