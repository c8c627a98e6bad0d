import { Counter, Gauge, type Registry } from 'prom-client'
import { DEPLOYMENT_STATES, type DeploymentState } from '../../tracker/protocol/index.ts'

/** The client's deployment metrics, in the node's registry. */
export function createClientMetrics(registry: Registry, statesNow: () => Iterable<DeploymentState>) {
  return {
    deployments: new Gauge({
      name: 'peerstage_client_deployments',
      help: 'Deployments this client knows, by state',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const counts = new Map<string, number>(DEPLOYMENT_STATES.map((s) => [s, 0]))
        for (const s of statesNow()) counts.set(s, counts.get(s)! + 1)
        for (const [state, n] of counts) this.set({ state }, n)
      },
    }),
    verificationFailures: new Counter({ name: 'peerstage_client_verification_failures_total', help: 'Checks of a package on disk that found bad chunks (they are fetched again)', registers: [registry] }),
    programExits: new Counter({ name: 'peerstage_client_program_exits_total', help: 'Programs run, by exit code (signal: killed; unstarted: could not start)', labelNames: ['code'] as const, registers: [registry] }),
  }
}

export type ClientMetrics = ReturnType<typeof createClientMetrics>
