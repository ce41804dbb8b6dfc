// Code blocks of README.md and docs/*.md that are marked runnable: an info string of
// "<lang> runnable" (```js runnable, ```ts runnable). Each is a whole program that imports
// the package by name and ends by itself.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** [{ file, line, lang, code }] for every runnable block of the README and docs/. */
export function runnableBlocks() {
  const files = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const blocks = [];
  for (const file of files) {
    const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\w+) runnable\s*$/.exec(lines[i]);
      if (!open) continue;
      const end = lines.indexOf('```', i + 1);
      if (end < 0) throw new Error(`${file}:${i + 1}: runnable block is not closed`);
      blocks.push({ file, line: i + 1, lang: open[1], code: `${lines.slice(i + 1, end).join('\n')}\n` });
      i = end;
    }
  }
  return blocks;
}

/** The README's first runnable block: the example a new user copies. */
export function readmeExample() {
  const b = runnableBlocks().find((x) => x.file === 'README.md');
  if (!b) throw new Error('README.md has no runnable example');
  return b.code;
}

/** The same program as CommonJS: `import { a, b } from 'm'` becomes a require. */
export function toCommonJs(code) {
  return code.replace(/^import \{([^}]+)\} from '([^']+)';$/gm, (_, names, mod) => `const {${names.replace(/\btype \w+,?/g, '')}} = require('${mod}');`);
}
