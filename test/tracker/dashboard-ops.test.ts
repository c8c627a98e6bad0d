import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createClientMetrics } from '../../node/client/index.ts'
import { createNodeMetrics } from '../../node/index.ts'
import { createTrackerMetrics } from '../../tracker/index.ts'

const OPS = fileURLToPath(new URL('../../tracker/dashboard/ops/', import.meta.url))
const dashboard = JSON.parse(readFileSync(join(OPS, 'grafana-dashboard.json'), 'utf8'))
const alerts = parse(readFileSync(join(OPS, 'alerts.yaml'), 'utf8'))
const PROMTOOL = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'promtool')).find((p) => existsSync(p))

/** Every series the code exports, as Prometheus names them (a histogram as _bucket, _sum and _count). */
async function exportedSeries(): Promise<Set<string>> {
  const registry = new Registry()
  createNodeMetrics(registry)
  createClientMetrics(registry, () => [])
  const all = [...await registry.getMetricsAsJSON(), ...await createTrackerMetrics().registry.getMetricsAsJSON()]
  // prom-client types `type` as a numeric enum; at run time it is the name ('histogram').
  return new Set(all.flatMap((m) => (String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => `${m.name}${s}`) : [m.name])))
}

/** The peerstage metric names an expression reads. */
const namesIn = (expr: string): string[] => [...expr.matchAll(/\bpeerstage_\w+/g)].map((m) => m[0])

describe('the Grafana dashboard and the Prometheus alert rules', () => {
  it('a dashboard on a ${datasource} variable, no fixed UID, every panel querying exported metrics', async () => {
    const series = await exportedSeries()
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }))
    expect(new Set([...JSON.stringify(dashboard).matchAll(/"uid":"([^"]*)"/g)].map((m) => m[1]))).toEqual(new Set(['${datasource}']))
    expect(dashboard.panels.length).toBeGreaterThan(0)
    for (const panel of dashboard.panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      for (const target of panel.targets) {
        expect(target.expr, panel.title).toEqual(expect.any(String))
        expect(namesIn(target.expr), `${panel.title}: ${target.expr}`).not.toEqual([])
        for (const name of namesIn(target.expr)) expect(series, `${panel.title}: ${name}`).toContain(name)
      }
    }
    for (const variable of dashboard.templating.list) for (const name of namesIn(variable.definition ?? '')) expect(series, variable.name).toContain(name)
  })

  it('alert rules with alert, expr, for, a severity and a summary, on exported metrics', async () => {
    const series = await exportedSeries()
    const rules = alerts.groups.flatMap((g: { rules: unknown[] }) => g.rules)
    expect(rules.map((r: { alert: string }) => r.alert)).toEqual(['PeerstageSubnetOverBudget', 'PeerstageDeploymentBehindDeadline', 'PeerstageDpMissingPackage', 'PeerstageVerificationFailures'])
    for (const rule of rules) {
      expect(rule, rule.alert).toMatchObject({ alert: expect.any(String), expr: expect.any(String), for: expect.stringMatching(/^\d+[smh]$/), labels: { severity: expect.stringMatching(/^(warning|critical)$/) }, annotations: { summary: expect.any(String) } })
      expect(namesIn(rule.expr), rule.alert).not.toEqual([])
      for (const name of namesIn(rule.expr)) expect(series, `${rule.alert}: ${name}`).toContain(name)
    }
  })

  it('alert rules pass promtool check rules', () => {
    if (PROMTOOL === undefined) {
      console.log('promtool not found: apt-get install -y prometheus')
      return
    }
    expect(execFileSync(PROMTOOL, ['check', 'rules', join(OPS, 'alerts.yaml')], { encoding: 'utf8' })).toMatch(/SUCCESS: 4 rules found/)
  })
})
