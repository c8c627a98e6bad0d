/** A fenced ```sh block of a Markdown text: its code and the line its fence opens on (1-based). */
export interface ShellBlock { line: number, code: string }

/**
 * The ```sh blocks of a Markdown text, in order: the blocks the README promises run as
 * pasted. Other fences (```bash, ```console, ```text, ```yaml, …) are examples not to run.
 */
export function readmeShellBlocks(markdown: string): ShellBlock[] {
  const blocks: ShellBlock[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(`{3,}|~{3,})\s*(\S*)/.exec(lines[i]!)
    if (fence === null) continue
    const close = lines.findIndex((l, j) => j > i && l.trimEnd() === fence[1])
    const end = close < 0 ? lines.length : close
    if (fence[2] === 'sh') blocks.push({ line: i + 1, code: `${lines.slice(i + 1, end).join('\n')}\n` })
    i = end
  }
  return blocks
}
