import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const TRACKER = join(ROOT, 'tracker')
const PROTOCOL = join(TRACKER, 'protocol')
const COMMON = join(ROOT, 'common')

/**
 * The specifiers of a file's static imports and re-exports: `import … from 'x'`,
 * `import type … from 'x'`, `export { … } from 'x'`, `export * from 'x'` and `import 'x'`.
 * Type imports count: a type-only circle still ties the files together (the metrics ↔
 * tracker circle this test was written for was one). Dynamic `import()` does not count.
 */
function importsOf(source: string): string[] {
  const statement = /^(?:import|export)(?:\s+type)?\s+(?:\*(?:\s+as\s+\w+)?|\{[^}]*\}|\w+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+\w+))?)\s+from\s+'([^']+)'|^import\s+'([^']+)'/gm
  return [...source.matchAll(statement)].map((m) => (m[1] ?? m[2])!)
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
}

/** File → the files under `within` it imports (relative specifiers only). */
function graphOf(files: string[], within: string): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const f of files) {
    const deps = importsOf(readFileSync(f, 'utf8')).filter((s) => s.startsWith('.')).map((s) => resolve(dirname(f), s))
    graph.set(f, deps.filter((d) => d.startsWith(within + '/')))
  }
  return graph
}

/** The first import circle found, as the files in order with the first repeated at the end; undefined if none. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (f: string): string[] | undefined => {
    state.set(f, 'open')
    path.push(f)
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'open') return [...path.slice(path.indexOf(d)), d]
      if (!state.has(d)) {
        const found = visit(d)
        if (found !== undefined) return found
      }
    }
    path.pop()
    state.set(f, 'done')
    return undefined
  }
  for (const f of [...graph.keys()].sort()) {
    if (!state.has(f)) {
      const found = visit(f)
      if (found !== undefined) return found
    }
  }
  return undefined
}

const name = (f: string): string => relative(ROOT, f)

describe('tracker/ imports', () => {
  it('the parser reads single-line, multi-line, type and re-export forms, and the cycle finder finds a circle', () => {
    const source = [
      "import { a } from './a.ts'",
      "import type { B } from './b.ts'",
      "import Fastify, { type F } from 'fastify'",
      'export {',
      '  c,',
      '  type D,',
      "} from './c.ts'",
      "export * from './d.ts'",
      "import './e.ts'",
      "const text = 'not from an import'",
      "const later = await import('./lazy.ts')",
    ].join('\n')
    expect(importsOf(source)).toEqual(['./a.ts', './b.ts', 'fastify', './c.ts', './d.ts', './e.ts'])
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a'])
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', []]]))).toBeUndefined()
  })

  it('no file under tracker/ imports itself back through others (type imports included)', () => {
    const graph = graphOf(tsFiles(TRACKER), TRACKER)
    // The graph is real: the tracker imports its announce handler and the protocol.
    expect(graph.get(join(TRACKER, 'tracker.ts'))).toContain(join(TRACKER, 'announce.ts'))
    const cycle = findCycle(graph)
    expect(cycle?.map(name).join(' -> '), 'an import circle').toBeUndefined()
  })

  it('tracker/protocol/ imports only itself, common/ and node built-ins', () => {
    const files = tsFiles(PROTOCOL)
    expect(files.map(name)).toContain('tracker/protocol/index.ts')
    const outside: string[] = []
    for (const f of files) {
      for (const s of importsOf(readFileSync(f, 'utf8'))) {
        if (s.startsWith('node:')) continue
        const target = s.startsWith('.') ? resolve(dirname(f), s) : undefined
        if (target !== undefined && (target.startsWith(PROTOCOL + '/') || target.startsWith(COMMON + '/'))) continue
        outside.push(`${name(f)} imports '${s}'`)
      }
    }
    expect(outside).toEqual([])
  })
})
