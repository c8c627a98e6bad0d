// Content: the catalogue, and per package and DP: state, present / total, last copied, reason.
import { bytes, h, percent, relative, shortId, table } from './fmt.js'

export function renderContent(root, status, now) {
  if (status.packages.length === 0) return root.replaceChildren(h('p', {}, 'The catalogue is empty.'))
  root.replaceChildren(...status.packages.map((p) => h('article', {},
    h('h3', {}, p.listed ? `${p.name}@${p.version}` : `${shortId(p.id)} (not listed)`, ` — ${bytes(p.bytes)}`),
    table(['Site', 'DP', 'Subnet', 'State', 'Present / total', 'Last copied', 'Reason'], p.sites.flatMap((s) => (s.dps.length === 0
      ? [[s.site, 'no DP registered', '', s.required ? 'missing' : '', '', '', '']]
      : s.dps.map((d) => [s.site, shortId(d.peerId), d.subnet, d.state, `${bytes(d.presentBytes)} / ${bytes(d.totalBytes)} (${percent(d.totalBytes ? d.presentBytes / d.totalBytes : 0)})`, d.copiedAt ? relative(d.copiedAt, now) : 'never', d.reason ?? ''])))))))
}
