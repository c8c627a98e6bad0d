import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The JSON report is what .ci/run counts; the default reporter is for people.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most files wait on processes, timers and sockets, not the CPU: a third worker on two
    // cores cut the suite's wall time (measured in the stop note) without starving the rest.
    maxWorkers: 3,
  },
})
