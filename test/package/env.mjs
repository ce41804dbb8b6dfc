// What scripts/stages/package.mjs prepared: the packed tarball and two consumer folders.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const out = process.env.SMC_PACKAGE_OUT;
if (!out) throw new Error('test/package: run through `npm test -- --only=package` (SMC_PACKAGE_OUT is not set)');

export const packageOut = out;
export const prebuiltDir = path.join(out, 'prebuilt');
export const sourceDir = path.join(out, 'source');
export const hiddenPath = process.env.SMC_HIDDEN_PATH;
export const packList = JSON.parse(readFileSync(path.join(out, 'pack.json'), 'utf8'))[0];

/** Runs `node file` in `cwd` with a timeout; returns { status, stdout, stderr, ms }. */
export function runNode(cwd, file, { env = {}, timeoutMs = 30_000, args = [] } = {}) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...args, file], {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, PATH: hiddenPath ?? process.env.PATH, ...env },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
}

export function writeIn(dir, name, text) {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
