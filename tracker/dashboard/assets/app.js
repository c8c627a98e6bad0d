// Polls the JSON API every 2 s and redraws each view; no reload, no framework.
import { api, ApiError, auth } from './api.js'
import { renderContent } from './content.js'
import { renderDeployments } from './deployments.js'
import { renderNodes } from './nodes.js'
import { fillScopes, loadTimeline, resetForm, shiftWeek, submitWindow } from './schedules.js'
import { renderSites, wanRates } from './sites.js'
import { renderTraffic } from './traffic.js'

const POLL_MS = 2000
/** GET /v1/status may keep the tracker busy at most this share of the time (it evaluates every subnet's budget). */
const MAX_LOAD = 0.1
const $ = (sel) => document.querySelector(sel)
let prevStatus
let budgetVersion
let statusMs = 0

/** Each view in its own try: one failing route leaves the others live. */
async function view(name, draw) {
  try {
    await draw()
    return undefined
  } catch (err) {
    const root = $(`#${name} .view`) ?? $(`#${name} .note`)
    root?.replaceChildren(`Could not load: ${err.message}`)
    return err
  }
}

async function refresh() {
  const asked = performance.now()
  const status = await api('/v1/status')
  statusMs = performance.now() - asked
  // Times are judged by the tracker's clock, not this browser's, which may be off.
  const now = Date.parse(status.time)
  renderSites($('#sites .view'), status, wanRates(prevStatus, status), now)
  prevStatus = status
  fillScopes(status)
  const errors = await Promise.all([
    view('traffic', async () => renderTraffic($('#traffic .chart'), $('#traffic .note'), await api('/v1/history'))),
    view('deployments', async () => {
      const [{ deployments }, { packages }] = await Promise.all([api('/v1/deployments'), api('/v1/packages')])
      const live = deployments.filter((d) => !d.cancelledAt).slice(-10)
      renderDeployments($('#deployments .view'), await Promise.all(live.map((d) => api(`/v1/deployments/${encodeURIComponent(d.id)}/status`))), packages, now)
    }),
    view('content', async () => renderContent($('#content .view'), await api('/v1/packages/status'), now)),
    view('nodes', async () => renderNodes($('#nodes .view'), await api('/v1/nodes'))),
    // A window edge or anyone's throttle change moves the budget version: redraw the week.
    budgetVersion !== status.budgetVersion ? view('schedules', loadTimeline) : undefined,
  ])
  budgetVersion = status.budgetVersion
  const failed = errors.find((e) => e instanceof ApiError && e.status === 401)
  $('#updated').textContent = failed ? `Sign in: ${failed.message}` : `Updated ${new Date().toLocaleTimeString('en-GB')}`
}

async function loop() {
  try {
    await refresh()
    if (window.peerstageFirstRender === undefined) window.peerstageFirstRender = performance.now()
  } catch (err) {
    // 401: the tracker has a dashboardToken, and the page needs it (or the admin token) to read.
    $('#updated').textContent = err instanceof ApiError && err.status === 401 ? `Sign in to read: ${err.message}` : `Tracker not answering: ${err.message}`
  }
  setTimeout(loop, Math.max(POLL_MS, statusMs / MAX_LOAD))
}

function showSignedIn() {
  const on = Boolean(auth.token)
  $('#signout').hidden = !on
  $('#signin-state').textContent = on ? 'Signed in: changes use this token.' : 'Read only: sign in to change schedules.'
}

$('#signin').addEventListener('submit', (e) => {
  e.preventDefault()
  auth.token = $('#token').value
  $('#token').value = ''
  showSignedIn()
  budgetVersion = undefined // redraw the timeline with its edit buttons
  refresh()
})
$('#signout').addEventListener('click', () => {
  auth.token = undefined
  showSignedIn()
  budgetVersion = undefined
  refresh()
})
$('#scope').addEventListener('change', () => view('schedules', loadTimeline))
$('#week').addEventListener('change', () => view('schedules', loadTimeline))
$('#prev-week').addEventListener('click', () => shiftWeek(-7))
$('#next-week').addEventListener('click', () => shiftWeek(7))
$('#window-form').addEventListener('submit', (e) => {
  e.preventDefault()
  submitWindow()
})
$('#window-cancel').addEventListener('click', () => {
  $('#window-rule').value = ''
  $('#window-error').textContent = ''
  resetForm()
})
showSignedIn()
loop()
