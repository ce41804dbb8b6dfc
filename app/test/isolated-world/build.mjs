// Builds the isolated-world e2e's Chromium extension into build/isolated-world-ext/ with
// Vite: the TypeScript peer's worker (inlined into the content script as a string, so the
// content script can start it from a Blob URL without web-accessible resources), the
// ISOLATED-world content script (the preload's bridge + the worker host) and the MAIN-world
// shim, each one self-contained IIFE file, plus manifest.json.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
export const extensionDir = path.join(root, 'build/isolated-world-ext');

async function bundle(build, entry, { write, define = {} }) {
  const out = await build({
    configFile: false,
    logLevel: 'warn',
    root: here,
    define,
    build: {
      outDir: extensionDir,
      emptyOutDir: false,
      write,
      minify: false,
      target: 'es2022',
      lib: { entry: path.resolve(here, entry), formats: ['iife'], name: 'smcIsolatedWorld', fileName: () => `${path.basename(entry, '.ts')}.js` },
    },
  });
  const outputs = (Array.isArray(out) ? out : [out]).flatMap((o) => o.output ?? []);
  return outputs.find((o) => o.type === 'chunk')?.code ?? '';
}

/** Builds the extension; returns its directory. */
export async function buildExtension() {
  const { build } = await import('vite');
  rmSync(extensionDir, { recursive: true, force: true });
  mkdirSync(extensionDir, { recursive: true });
  const worker = await bundle(build, '../../src/peer/peer-worker.ts', { write: false });
  if (!worker.includes('attach')) throw new Error('isolated-world build: the peer worker bundle is empty');
  await bundle(build, 'content.ts', { write: true, define: { __SMC_PEER_WORKER_SOURCE__: JSON.stringify(worker) } });
  await bundle(build, 'main-shim.ts', { write: true });
  copyFileSync(path.join(here, 'manifest.json'), path.join(extensionDir, 'manifest.json'));
  return extensionDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await buildExtension());
}
