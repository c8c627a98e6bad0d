/**
 * The single executable's entry (scripts/build-binary.ts bundles it into one CommonJS
 * script). The binary runs this script whatever its arguments, so it has no `-e` for the
 * program supervisor (node/client/supervisor.ts): that starts it as
 * `peerstage SEA_SUPERVISOR_ARG …`, and this file runs the supervisor's script instead of the CLI.
 */
import { SEA_SUPERVISOR_ARG } from '../common/index.ts'

if (process.argv[2] === SEA_SUPERVISOR_ARG) {
  void import('../node/client/index.ts').then((client) => { client.runSupervisorHere(process.argv.slice(3)) })
} else {
  void import('./peerstage.ts')
}
