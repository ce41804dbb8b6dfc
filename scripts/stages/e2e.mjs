// Real-browser tests (Debian Chromium via playwright-core).
import path from 'node:path';
import { root, run } from './util.mjs';

export default function e2e() {
  return run(process.execPath, [path.join(root, 'app/test/e2e.mjs')]) === 0;
}
