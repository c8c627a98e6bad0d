/**
 * client: a branch client's deployments. Learns them from the tracker, pre-stages from
 * availableAt (+ jitter), verifies from disk and materializes under packages/ID,
 * runs the program once at mandatoryAt, repairs what fails verification, and keeps the
 * package cache under its limit.
 */
export { DeploymentClient, type DeploymentClientInit } from './deployment-client.ts'
export type { DeploymentRecord } from './records.ts'
export { jitterMs, startAt } from './schedule.ts'
export { runProgram, resumeProgram, statusPathOf, LOG_TAIL_BYTES, DEFAULT_KILL_GRACE_MS, type ProgramResult } from './program.ts'
export { createClientMetrics, type ClientMetrics } from './metrics.ts'
export { runSupervisorHere } from './supervisor.ts'
