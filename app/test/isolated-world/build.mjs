// Builds the isolated-world e2e's Chromium extension into build/isolated-world-ext/ with
// Vite: the ISOLATED-world content script (the preload's bridge + the worker host) and the
// MAIN-world shim, each one self-contained IIFE file, plus manifest.json; and, beside it,
// the TypeScript peer's worker (peer-worker.js). The page's CSP (worker-src 'self', as in
// Electron) refuses a blob: worker even from a content script, so the e2e serves the
// worker from the page's own origin at WORKER_PATH.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
export const extensionDir = path.join(root, 'build/isolated-world-ext');
export const workerFile = path.join(root, 'build/isolated-world-worker/peer-worker.js');
/** Where the content script starts the peer worker, on the page's origin. */
export const WORKER_PATH = '/__smc-e2e/peer-worker.js';

async function bundle(build, entry, { outDir = extensionDir, define = {} }) {
  const out = await build({
    configFile: false,
    logLevel: 'warn',
    root: here,
    define,
    build: {
      outDir,
      emptyOutDir: false,
      minify: false,
      target: 'es2022',
      lib: { entry: path.resolve(here, entry), formats: ['iife'], name: 'smcIsolatedWorld', fileName: () => `${path.basename(entry, '.ts')}.js` },
    },
  });
  return out;
}

/** Builds the extension; returns its directory. */
export async function buildExtension() {
  const { build } = await import('vite');
  rmSync(extensionDir, { recursive: true, force: true });
  mkdirSync(extensionDir, { recursive: true });
  rmSync(path.dirname(workerFile), { recursive: true, force: true });
  await bundle(build, '../../src/peer/peer-worker.ts', { outDir: path.dirname(workerFile) });
  await bundle(build, 'content.ts', { define: { __SMC_PEER_WORKER_PATH__: JSON.stringify(WORKER_PATH) } });
  await bundle(build, 'main-shim.ts', {});
  copyFileSync(path.join(here, 'manifest.json'), path.join(extensionDir, 'manifest.json'));
  return extensionDir;
}

/** The Electron main process's config module (app/electron/config.ts), bundled for Node,
 *  so the e2e serves the dashboard with exactly the headers of Electron's app:// handler. */
export async function loadElectronConfig() {
  const { build } = await import('vite');
  const outDir = path.join(root, 'build/isolated-world-config');
  await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      target: 'node20',
      ssr: path.join(root, 'app/electron/config.ts'),
      rollupOptions: { output: { format: 'es', entryFileNames: 'config.mjs' } },
    },
  });
  return import(pathToFileURL(path.join(outDir, 'config.mjs')).href);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await buildExtension());
}
