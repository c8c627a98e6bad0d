// Formatting and DOM helpers shared by the views.

/** An element: h('td', {class: 'x'}, 'text', child…); attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c))
  return el
}

export function table(head, rows, caption) {
  return h('div', { class: 'scroll' }, h('table', {}, caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c)))))))))
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
export function bytes(n) {
  let i = 0
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${UNITS[i]}`
}

/** bytes/s; null = unlimited. */
export const rate = (r) => (r === null ? 'unlimited' : r === 0 ? '0 (closed)' : `${bytes(r)}/s`)

export function duration(ms) {
  const s = Math.round(Math.abs(ms) / 1000)
  if (s < 90) return `${s} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
}

/** "in 3 h 5 min" or "4 min ago". */
export const relative = (iso, now) => {
  const d = Date.parse(iso) - now
  return d >= 0 ? `in ${duration(d)}` : `${duration(d)} ago`
}

export const localTime = (iso, timeZone) => new Date(iso).toLocaleString('en-GB', { timeZone, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })
export const shortId = (id) => (id.length > 14 ? `…${id.slice(-8)}` : id)
export const percent = (x) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)} %`
