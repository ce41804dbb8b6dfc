// Every runnable code block of README.md and docs/*.md, against the installed tarball:
// JavaScript runs (with a timeout) and must exit 0; TypeScript is compiled strictly
// (module and moduleResolution nodenext), then run the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { prebuiltDir, runNode, writeIn } from './env.mjs';
import { runnableBlocks } from './docs-blocks.mjs';

const blocks = runnableBlocks();

test('the docs have runnable examples (README, api, plugins, bpg)', () => {
  const files = new Set(blocks.map((b) => b.file));
  for (const f of ['README.md', 'docs/api.md', 'docs/plugins.md', 'docs/bpg.md']) assert.ok(files.has(f), `${f} has no runnable block`);
});

for (const b of blocks) {
  test(`${b.file}:${b.line} (${b.lang}) runs`, () => {
    const dir = path.join(prebuiltDir, 'docs', `${path.basename(b.file, '.md')}-${b.line}`);
    mkdirSync(dir, { recursive: true });
    let entry;
    if (b.lang === 'ts') {
      writeIn(dir, 'index.ts', b.code);
      writeIn(dir, 'package.json', '{ "type": "module" }\n');
      writeIn(dir, 'tsconfig.json', JSON.stringify({
        compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], outDir: 'out' },
        files: ['index.ts'],
      }));
      const tsc = path.join(prebuiltDir, 'node_modules/typescript/bin/tsc');
      const c = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', cwd: dir });
      assert.equal(c.status, 0, `tsc: ${c.stdout}${c.stderr}`);
      entry = path.join(dir, 'out/index.js');
    } else if (b.lang === 'js' || b.lang === 'mjs') {
      entry = writeIn(dir, 'index.mjs', b.code);
    } else if (b.lang === 'cjs') {
      entry = writeIn(dir, 'index.cjs', b.code);
    } else {
      assert.fail(`${b.file}:${b.line}: runnable blocks are js, mjs, cjs or ts, not ${b.lang}`);
    }
    const r = runNode(dir, entry, { timeoutMs: 30_000 });
    assert.equal(r.signal, null, `killed by ${r.signal} after ${r.ms} ms (it must end by itself)\n${r.stdout}${r.stderr}`);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.notEqual(r.stdout.trim(), '', 'it printed nothing');
  });
}
