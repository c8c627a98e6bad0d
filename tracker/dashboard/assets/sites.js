// Sites and subnets: the parent chain, each subnet's budget now, who decided it, the next change,
// and the WAN rate measured between two polls against the budget.
import { bytes, h, localTime, rate, relative, table } from './fmt.js'

const wanOf = (subnet) => subnet.packages.reduce((n, p) => n + p.wanBytes, 0)

/** Subnet → WAN bytes/s between the last two status polls. */
export function wanRates(prev, cur) {
  const out = new Map()
  if (!prev) return out
  const seconds = (Date.parse(cur.time) - Date.parse(prev.time)) / 1000
  if (!(seconds > 0)) return out
  const before = new Map(allSubnets(prev).map((s) => [s.subnet, wanOf(s)]))
  for (const s of allSubnets(cur)) out.set(s.subnet, Math.max(0, wanOf(s) - (before.get(s.subnet) ?? wanOf(s))) / seconds)
  return out
}

export const allSubnets = (status) => [...status.sites.flatMap((s) => s.subnets), ...status.unassigned]

function chain(site, byName) {
  const names = [site.name]
  for (let p = site.parent; p && !names.includes(p); p = byName.get(p)?.parent ?? null) names.push(p)
  return names.reverse().join(' → ')
}

function measured(r, budget) {
  if (r === undefined) return 'measuring…'
  const text = `${bytes(Math.round(r))}/s` // a measured 0 is idle, not closed
  if (budget === null) return text
  if (budget === 0) return r > 0 ? `${text} — OVER (closed)` : text
  const share = r / budget
  return `${text} (${Math.round(100 * share)} % of budget)${share > 1.05 ? ' — OVER' : ''}`
}

export function renderSites(root, status, rates, now) {
  const byName = new Map(status.sites.map((s) => [s.name, s]))
  const row = (s, tz) => [
    s.subnet, `${s.nodes.clients} client(s), ${s.nodes.dps} DP(s)`, `${s.leases.length} / ${s.maxWanClients}`,
    rate(s.budget.rateBytesPerSec), s.budget.rule, s.budget.decidedBy,
    s.budget.nextChangeAt ? `${localTime(s.budget.nextChangeAt, tz)} (${relative(s.budget.nextChangeAt, now)})` : 'none',
    measured(rates.get(s.subnet), s.budget.rateBytesPerSec),
  ]
  const head = ['Subnet', 'Nodes', 'WAN leases', 'Budget now', 'Rule in force', 'Decided by', 'Next change', 'WAN measured']
  root.replaceChildren(
    ...status.sites.map((site) => h('article', { class: 'site' },
      h('h3', {}, `Site ${chain(site, byName)}`, h('span', { class: 'tz' }, ` (${site.timezone})`)),
      site.link ? h('p', {}, `Link from ${site.parent}: ${rate(site.link.rateBytesPerSec)} by ${site.link.rule}`) : null,
      table(head, site.subnets.map((s) => row(s, site.timezone))))),
    status.unassigned.length ? h('article', { class: 'site' }, h('h3', {}, 'In no configured site (global rules)'), table(head, status.unassigned.map((s) => row(s, 'UTC')))) : '',
  )
}
