// `npm start`'s answers to a bad or busy PORT: one line saying so, a non-zero exit, no
// stack. Runs app/start.mjs as `npm start` does (the dashboard must be built, which the
// e2e run before this has done; a busy port is only found after the build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const start = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'start.mjs');

function runStart(port) {
  const r = spawnSync(process.execPath, [start], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PORT: port } });
  const errLines = r.stderr.trim().split('\n').filter((l) => l.startsWith('npm start:') || /^\s+at /.test(l));
  return { status: r.status, errLines, stderr: r.stderr };
}

for (const bad of ['abc', '-1', '70000', '80.5']) {
  test(`PORT=${bad} is refused with one line naming it`, () => {
    const r = runStart(bad);
    assert.equal(r.status, 2, r.stderr);
    assert.deepEqual(r.errLines, [`npm start: PORT must be an integer from 0 to 65535 (0: any free port), not '${bad}'`]);
  });
}

test('a busy PORT is reported in one line with a way out', async () => {
  const blocker = net.createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address();
  try {
    const r = runStart(String(port));
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(r.errLines, [`npm start: port ${port} is in use; choose another with PORT (e.g. PORT=${port + 1} npm start)`]);
  } finally {
    blocker.close();
  }
});
