// Builds the dashboard into app/dist when it is older than what goes into it: the app's
// sources and the library's browser build (js/dist/esm, rebuilt first when js/src is
// newer). Used by `npm start` and the e2e test.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const appDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(appDir, '..');

function newestMtime(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(p)) if (e !== 'node_modules' && e !== 'dist') m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

function node(args, env = process.env) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  return r.status === 0;
}

/** Returns true when app/dist is up to date (built now or before). */
export function buildDashboard(log = console.log) {
  const libBuilt = newestMtime(path.join(root, 'js/dist/esm'));
  if (libBuilt < newestMtime(path.join(root, 'js/src'))) {
    log('js/dist is stale: building the library (scripts/build.mjs --js-only)');
    if (!node([path.join(root, 'scripts/build.mjs'), '--js-only'])) return false;
  }
  const index = path.join(appDir, 'dist', 'index.html');
  const built = existsSync(index) ? statSync(index).mtimeMs : 0;
  const inputs = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((p) => path.join(appDir, p));
  const sources = Math.max(...inputs.map(newestMtime), newestMtime(path.join(root, 'js/dist/esm')));
  if (built >= sources) {
    log('app/dist is up to date');
    return true;
  }
  log(built ? 'app/dist is stale: vite build' : 'app/dist missing: vite build');
  const vite = path.join(root, 'node_modules/vite/bin/vite.js');
  if (!existsSync(vite)) {
    log('vite is not installed (run npm install at the repository root)');
    return false;
  }
  return node([vite, 'build', '--config', path.join(appDir, 'vite.config.ts'), '--logLevel', 'warn'], {
    ...process.env,
    VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true',
  });
}
