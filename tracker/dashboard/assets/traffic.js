// A chart of WAN and LAN bytes per second per site, from the tracker's bounded history.
import { bytes, h } from './fmt.js'

let plot
let shape = ''

/** [times, then per site: WAN B/s, LAN B/s] between consecutive samples. */
function series(samples, sites) {
  const xs = []
  const ys = sites.flatMap(() => [[], []])
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]]
    const dt = (Date.parse(b.at) - Date.parse(a.at)) / 1000
    xs.push(Date.parse(b.at) / 1000)
    sites.forEach((s, k) => {
      const d = (key) => Math.max(0, ((b.sites[s]?.[key] ?? 0) - (a.sites[s]?.[key] ?? 0)) / dt)
      ys[2 * k].push(d('wan'))
      ys[2 * k + 1].push(d('lan'))
    })
  }
  return [xs, ...ys]
}

const COLOURS = ['#1f5fa8', '#b3541e', '#2e7d32', '#6a1b9a', '#00838f', '#8d6e00']

export function renderTraffic(root, note, history) {
  const sites = [...new Set(history.samples.flatMap((s) => Object.keys(s.sites)))].sort()
  note.textContent = `Sampled every ${history.intervalMs / 1000} s, the last ${history.samples.length} of at most ${history.maxSamples} samples. Solid: WAN; dashed: LAN.` +
    (sites.length ? ` Totals: ${sites.map((s) => { const t = history.samples.at(-1).sites[s]; return `${s} WAN ${bytes(t?.wan ?? 0)}, LAN ${bytes(t?.lan ?? 0)}` }).join('; ')}.` : '')
  if (typeof uPlot === 'undefined') return
  const data = series(history.samples, sites)
  // Fewer than two rates would stretch the time axis over years: wait for the next samples.
  if (data[0].length < 2) {
    plot?.destroy()
    plot = undefined
    return root.replaceChildren(h('p', {}, 'Collecting samples for the chart…'))
  }
  if (!plot) root.replaceChildren()
  const width = Math.max(280, root.clientWidth)
  if (plot && shape === `${sites.join()} ${width}`) return plot.setData(data)
  plot?.destroy()
  shape = `${sites.join()} ${width}`
  plot = new uPlot({
    width, height: 260,
    axes: [{}, { values: (_u, v) => v.map((x) => `${bytes(x)}/s`), size: 80 }],
    series: [{}, ...sites.flatMap((s, k) => [
      { label: `${s} WAN`, stroke: COLOURS[k % COLOURS.length], width: 2, value: (_u, v) => (v === null ? '—' : `${bytes(v)}/s`) },
      { label: `${s} LAN`, stroke: COLOURS[k % COLOURS.length], dash: [6, 4], width: 2, value: (_u, v) => (v === null ? '—' : `${bytes(v)}/s`) },
    ])],
  }, data, root)
  root.querySelector('.u-wrap')?.setAttribute('aria-hidden', 'true')
  if (!root.querySelector('.sr')) root.prepend(h('p', { class: 'sr' }, 'Chart; the totals are given in words below it.'))
}
