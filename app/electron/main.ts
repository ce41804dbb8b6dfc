// Electron main process. The renderer is served from the custom app:// protocol so that
// every response carries COOP/COEP (file:// cannot send headers, and without cross-origin
// isolation a page has no SharedArrayBuffer). Secure defaults: contextIsolation on,
// nodeIntegration off; the preload is unsandboxed because it loads the native addon.
// SMC_RENDERER_MODE=node-integration selects the prototype's simpler mode (the addon
// loaded directly by the page: docs/electron.md explains the trade-off).
import { app, BrowserWindow, net, protocol } from 'electron';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isolationHeaders, resolveAppUrl, windowOptions, type RendererMode } from './config';

protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

// Compiled to app/electron/dist/app/electron/main.js; the renderer build is app/dist.
const distDir = path.join(__dirname, '..', '..', '..', '..', 'dist');
const mode: RendererMode = process.env.SMC_RENDERER_MODE === 'node-integration' ? 'node-integration' : 'isolated';

async function createWindow(): Promise<void> {
  protocol.handle('app', async (request) => {
    const file = resolveAppUrl(distDir, request.url);
    if (file === null) return new Response('forbidden', { status: 403 });
    const upstream = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(upstream.headers);
    for (const [k, v] of Object.entries(isolationHeaders)) headers.set(k, v);
    return new Response(upstream.body, { status: upstream.status, headers });
  });
  const win = new BrowserWindow(windowOptions(mode, path.join(__dirname, 'preload.js')));
  await win.loadURL('app://dashboard/index.html');
}

app.whenReady().then(createWindow, (e: unknown) => {
  console.error('electron: failed to start', e);
  app.exit(1);
});
app.on('window-all-closed', () => app.quit());
