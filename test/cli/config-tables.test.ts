import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { configKeys, configTable } from '../../bin/config-file.ts'
import { client, dp, fetch } from '../../bin/node-commands.ts'
import { NODE_FLAG_DOCS } from '../../bin/node-flags.ts'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const start = readme.indexOf('\n## Config files\n')
const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
const roles = [dp, fetch, client] as const

/** The README's tables cannot drift from the option definitions: a flag added to a command fails here until documented. */
describe('README "Config files"', () => {
  it('has a table per role, exactly as the option definitions and bin/node-flags.ts make it', () => {
    expect(start, 'the section').toBeGreaterThan(0)
    for (const cmd of roles) {
      const table = configTable(cmd)
      // On failure, paste `table` (the expected value) into the README under the role.
      expect(section, `README table of ${cmd.name}`).toContain(`**\`${cmd.name}\`**`)
      expect(section.includes(`${table}\n`) ? table : section, `README table of ${cmd.name}`).toBe(table)
    }
  })

  it('documents every flag of every role, and no flag that no role has', () => {
    for (const cmd of roles) {
      for (const flag of configKeys(cmd).values()) expect(NODE_FLAG_DOCS[flag], `${cmd.name} --${flag}: add it to bin/node-flags.ts and the README`).toBeDefined()
      expect(cmd.configFile).toBe(NODE_FLAG_DOCS)
    }
    const used = new Set(roles.flatMap((cmd) => [...configKeys(cmd).values()]))
    for (const flag of Object.keys(NODE_FLAG_DOCS)) expect(used.has(flag), `bin/node-flags.ts documents --${flag}, which no role has`).toBe(true)
  })

  it('fences its examples so the README test does not run them', () => {
    expect(section).toContain('```yaml\n# /etc/peerstage/client.yaml')
    expect(section).not.toContain('```sh')
  })
})
