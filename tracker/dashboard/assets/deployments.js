// Deployments: per site and subnet, clients per state, bytes by source, peer efficiency,
// time to mandatoryAt, a warning when a site will not finish in time, failures and why.
import { bytes, duration, h, percent, relative, shortId, table } from './fmt.js'

const STATES = ['waiting', 'downloading', 'verified', 'running', 'succeeded', 'failed']
const DONE = new Set(['verified', 'running', 'succeeded'])
/** Deployment → site → {at, done}: bytes done at the last poll, for the site's rate. */
const lastDone = new Map()

const counts = (c) => STATES.map((s) => c[s] ?? 0)
const efficiency = (b) => {
  const all = b.lan + b.wan + b.reused
  return all === 0 ? '—' : percent(1 - b.wan / all)
}

/** Bytes on disk and in all over a site's clients, and whether it will make mandatoryAt at its rate. */
export function pace(d, site, packageBytes, now) {
  const clients = site.subnets.flatMap((s) => s.clients)
  const total = clients.length * packageBytes
  const done = clients.reduce((n, c) => n + (DONE.has(c.state) ? 1 : c.progress) * packageBytes, 0)
  const key = `${d.id} ${site.name}`
  const prev = lastDone.get(key)
  lastDone.set(key, { at: now, done })
  const remaining = total - done
  const left = Date.parse(d.mandatoryAt) - now
  if (remaining <= 0 || clients.length === 0) return { done, total, note: clients.length ? 'all clients have the package' : 'no client reported yet' }
  if (left <= 0) return { done, total, behind: true, note: 'BEHIND: mandatoryAt has passed and clients still lack the package' }
  if (prev === undefined || now <= prev.at || Date.parse(d.availableAt) > now) return { done, total, note: 'measuring…' }
  const rate = (done - prev.done) / ((now - prev.at) / 1000)
  if (rate <= 0) return { done, total, behind: true, note: `BEHIND: no progress since the last poll, ${duration(left)} to mandatoryAt` }
  const eta = (remaining / rate) * 1000
  return eta > left
    ? { done, total, behind: true, note: `BEHIND: at ${bytes(rate)}/s it needs ${duration(eta)}, mandatoryAt is in ${duration(left)}` }
    : { done, total, note: `on time: at ${bytes(rate)}/s done in ${duration(eta)}` }
}

export function renderDeployments(root, statuses, catalogue, now) {
  if (statuses.length === 0) return root.replaceChildren(h('p', {}, 'No deployments.'))
  const sizeOf = new Map(catalogue.map((p) => [p.id, p.bytes]))
  root.replaceChildren(...statuses.map(({ deployment: d, counts: all, sites, unassigned }) => {
    const size = sizeOf.get(d.packageId) ?? 0
    const failures = [...sites.flatMap((s) => s.subnets), ...unassigned].flatMap((s) => s.clients.filter((c) => c.state === 'failed').map((c) => ({ ...c, subnet: s.subnet })))
    const rows = sites.flatMap((site) => {
      const p = pace(d, site, size, now)
      return [
        h('tr', { class: p.behind ? 'behind' : '' }, h('th', { scope: 'row' }, `site ${site.name}`), ...counts(site.subnets.reduce((c, s) => { for (const [k, v] of Object.entries(s.counts)) c[k] = (c[k] ?? 0) + v; return c }, {})).map((n) => h('td', {}, n)),
          h('td', {}, `${bytes(p.done)} / ${bytes(p.total)}`), h('td', { colspan: 4 }, p.behind ? h('strong', {}, p.note) : p.note)),
        ...site.subnets.map((s) => h('tr', {}, h('td', {}, s.subnet), ...counts(s.counts).map((n) => h('td', {}, n)), h('td', {}, ''),
          h('td', {}, bytes(s.bytes.lan)), h('td', {}, bytes(s.bytes.wan)), h('td', {}, bytes(s.bytes.reused)), h('td', {}, efficiency(s.bytes)))),
      ]
    })
    const mandatory = Date.parse(d.mandatoryAt) - now
    return h('article', { class: 'deployment' },
      h('h3', {}, `${d.id} ${d.name}@${d.version}`, d.cancelledAt ? ' (cancelled)' : ''),
      h('p', {}, `Program ${d.program}; available ${relative(d.availableAt, now)}; mandatory ${mandatory > 0 ? `in ${duration(mandatory)}` : `passed ${duration(mandatory)} ago`} (${d.mandatoryAt}); package ${bytes(size)}; targets ${d.targets.join(', ')}. Clients: ${STATES.map((s) => `${all[s] ?? 0} ${s}`).join(', ')}.`),
      table(['Site / subnet', ...STATES, 'Done / total', 'LAN', 'WAN', 'Reused', 'Peer efficiency'], rows),
      failures.length ? table(['Client', 'Subnet', 'Exit code', 'Reason'], failures.map((c) => [shortId(c.peerId), c.subnet, c.exitCode ?? '—', c.reason ?? '—']), 'Failures') : h('p', {}, 'No failures.'))
  }))
}
