/**
 * tracker, as its clients see it: the HTTP client, its error codes, the deployment input
 * rules a caller checks before sending, and the shapes the tracker answers with.
 *
 * A second public face beside index.ts, and a subset of it: index.ts also re-exports the
 * server, whose imports (fastify, level, yaml, prom-client) cost a short-lived CLI command
 * most of its run time. Commands that only talk HTTP to a running tracker (`status`,
 * `throttle`, `deploy`, `package`, `node release`) import this file instead; everything
 * else, tests included, keeps using index.ts. Add nothing here that imports the server or
 * its store: test/cli/light-imports.test.ts fails if `status` or `deploy` loads fastify.
 */
export { TrackerClient, type TrackerClientInit, type Scope } from './client.ts'
export { TrackerErrorCodes, type TrackerErrorCode } from './errors.ts'
export { parseIsoTime, MAX_JITTER_SECONDS, type DeploymentInput } from './deployment-input.ts'
export type { Deployment, DeploymentState, Target } from './deployment-types.ts'
export type { DeploymentStatus, SubnetProgress, ClientProgress, StateCounts } from './deployments.ts'
export type { CataloguePackage, PackageStatus, DpPackageStatus } from './replication-types.ts'
