/**
 * tracker, as its clients see it: the HTTP client, its error codes, the deployment input
 * rules a caller checks before sending, and the shapes the tracker answers with; all of
 * it from tracker/protocol/, which loads no server.
 *
 * A second public face beside index.ts, and a subset of it: index.ts also re-exports the
 * server, whose imports (fastify, level, yaml, prom-client) cost a short-lived CLI command
 * most of its run time. Commands that only talk HTTP to a running tracker (`status`,
 * `throttle`, `deploy`, `package`, `node release`) import this file instead; everything
 * else, tests included, keeps using index.ts. Add nothing here that imports the server or
 * its store (protocol/ cannot): test/cli/light-imports.test.ts fails if `status` or `deploy` loads fastify.
 */
export {
  TrackerClient, TrackerErrorCodes, parseIsoTime, NO_RULE, MAX_JITTER_SECONDS, MAX_PROGRAM_TIMEOUT_SECONDS,
  type TrackerClientInit, type Scope, type TrackerErrorCode, type DeploymentInput,
  type Deployment, type DeploymentState, type Target,
  type DeploymentStatus, type SubnetProgress, type ClientProgress, type StateCounts,
  type CataloguePackage, type PackageStatus, type DpPackageStatus, type NodeSummary, type NodeProblem,
} from './protocol/index.ts'
