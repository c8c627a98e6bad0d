// Schedules: a scope's week as a timeline (who wins each stretch, and every window's own
// lane), and its windows edited in place through PUT /v1/throttle with the admin token.
import { api, auth } from './api.js'
import { h, localTime, table } from './fmt.js'

const $ = (sel) => document.querySelector(sel)
let current // the timeline shown
let editing // index (0-based) of the window being edited; undefined: adding

/** The scopes the tracker knows: its sites, their subnets, and links to sites with a parent. */
export function fillScopes(status) {
  const select = $('#scope')
  const options = status.sites.flatMap((s) => [
    [`site=${s.name}`, `site ${s.name}`],
    ...(s.parent ? [[`link=${s.name}`, `link ${s.parent} → ${s.name}`]] : []),
    ...s.subnets.map((n) => [`subnet=${n.subnet}`, `subnet ${n.subnet} (${s.name})`]),
  ])
  const key = options.map((o) => o[0]).join()
  if (select.dataset.key === key) return
  const chosen = select.value
  select.replaceChildren(...options.map(([value, label]) => h('option', { value }, label)))
  select.dataset.key = key
  if (options.some((o) => o[0] === chosen)) select.value = chosen
}

export async function loadTimeline() {
  const scope = $('#scope').value
  if (!scope) return
  const week = $('#week').value
  const t = await api(`/v1/timeline?${scope.replace(/=(.*)/, (_m, v) => `=${encodeURIComponent(v)}`)}${week ? `&week=${week}` : ''}`)
  current = t
  if (!week) $('#week').value = t.week
  renderTimeline(t)
}

export function shiftWeek(days) {
  const d = new Date(`${$('#week').value || current?.week}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + days)
  $('#week').value = d.toISOString().slice(0, 10)
  return loadTimeline()
}

const fraction = (iso, day) => (Date.parse(iso) - Date.parse(day.start)) / (Date.parse(day.end) - Date.parse(day.start))

function bar(day, pieces, cls, label) {
  return h('div', { class: `bar ${cls}` }, pieces.map((p) => {
    const left = 100 * fraction(p.start, day)
    const width = 100 * fraction(p.end, day) - left
    return h('span', { class: `seg ${p.cls}`, style: `left:${left}%;width:${width}%`, title: `${label(p)} (${localTime(p.start, current.timezone)} – ${localTime(p.end, current.timezone)})` }, label(p))
  }))
}

function renderTimeline(t) {
  const ticks = h('div', { class: 'ticks', 'aria-hidden': 'true' }, [0, 6, 12, 18, 24].map((hr) => h('span', { style: `left:${100 * hr / 24}%` }, `${hr}:00`)))
  const rows = t.days.map((day, i) => h('div', { class: 'day' },
    h('div', { class: 'day-label' }, `${day.weekday} ${day.date.slice(5)}`, day.hours !== 24 ? ` (${day.hours} h)` : ''),
    h('div', { class: 'lanes' },
      bar(day, day.segments.map((s) => ({ ...s, cls: `by-${s.decidedBy}` })), 'winner', (s) => `${s.decidedBy}: ${s.rate} (${s.rule})`),
      t.windows.map((w, k) => ({ w, k, occ: w.occurrences.filter((o) => o.day === i) })).filter((x) => x.occ.length > 0)
        .map(({ w, k, occ }) => bar(day, occ.map((o) => ({ ...o, cls: `lane by-${w.by}` })), 'lane', () => `#${k + 1} ${w.by}: ${w.rule}`)))))
  const scope = t.scope.kind === 'link' ? `link ${t.scope.parent} → ${t.scope.name}` : `${t.scope.kind} ${t.scope.name}`
  // The present, on the day it falls in (this week only): a line, and in words above the week.
  const now = Date.parse(t.now)
  const today = t.days.findIndex((d) => Date.parse(d.start) <= now && now < Date.parse(d.end))
  const inForce = today === -1 ? undefined : t.days[today].segments.find((s) => Date.parse(s.start) <= now && now < Date.parse(s.end))
  if (today !== -1) rows[today].querySelector('.lanes').append(h('span', { class: 'now', style: `left:${100 * fraction(t.now, t.days[today])}%`, title: 'now' }))
  $('#schedules .timeline').replaceChildren(
    h('p', {}, `Week of ${t.week} for ${scope}, in ${t.timezone}. Top bar of each day: the rule that wins; below it, each window's own lane (#N as in the table).`),
    inForce ? h('p', { class: 'in-force' }, `Now (${localTime(t.now, t.timezone)}, the vertical line): ${inForce.rate} by ${inForce.decidedBy} rule ${inForce.rule}.`) : null,
    h('div', { class: 'week' }, h('div', { class: 'day' }, h('div', { class: 'day-label' }, ''), ticks), rows))
  renderWindows(t)
}

/** The scope's own windows, editable; others' (site, global, under a subnet) shown for reference. */
function renderWindows(t) {
  const kind = t.scope.kind
  const editable = kind !== 'link'
  const own = t.windows.filter((w) => w.by === kind)
  const signedIn = Boolean(auth.token)
  const rows = t.windows.map((w, k) => {
    const mine = editable && w.by === kind
    const index = own.indexOf(w)
    return [`#${k + 1}`, w.by, w.rule, w.rate, w.winsMinutes > 0 ? `${(w.winsMinutes / 60).toFixed(1)} h` : 'never (beaten)',
      h('td', {}, mine && signedIn ? [
        h('button', { type: 'button', onclick: () => startEdit(index, w.rule) }, `Edit #${k + 1}`), ' ',
        h('button', { type: 'button', onclick: () => save(own.map((x) => x.rule).filter((_r, j) => j !== index)) }, `Delete #${k + 1}`),
      ] : mine ? 'sign in to edit' : '')]
  })
  $('#schedules .windows').replaceChildren(t.windows.length ? table(['#', 'Scope', 'Window', 'Rate', 'Wins this week', 'Change'], rows, 'Windows in force for this scope') : h('p', {}, 'No windows: the default rate applies all week.'))
  const form = $('#window-form')
  form.hidden = !(editable && signedIn)
  if (editing === undefined) resetForm()
}

function startEdit(index, rule) {
  editing = index
  $('#window-rule').value = rule
  $('#window-save').textContent = 'Save window'
  $('#window-cancel').hidden = false
  $('#window-error').textContent = ''
  $('#window-rule').focus()
}

export function resetForm() {
  editing = undefined
  $('#window-save').textContent = 'Add window'
  $('#window-cancel').hidden = true
}

/** All the scope's windows together replace its list (the throttle API's rule). */
async function save(windows) {
  const kind = current.scope.kind
  const error = $('#window-error')
  error.textContent = ''
  try {
    await api('/v1/throttle', { method: 'PUT', body: { [kind]: current.scope.name, windows } })
    $('#window-rule').value = ''
    resetForm()
    await loadTimeline()
  } catch (err) {
    error.textContent = `Not saved: ${err.message}${err.code ? ` (${err.code})` : ''}`
  }
}

export function submitWindow() {
  const own = current.windows.filter((w) => w.by === current.scope.kind).map((w) => w.rule)
  const rule = $('#window-rule').value.trim()
  if (editing === undefined) own.push(rule)
  else own[editing] = rule
  return save(own)
}
