// Electron main process. The renderer is served from the custom app:// protocol so that
// every response carries COOP/COEP (file:// cannot send headers, and without cross-origin
// isolation a page has no SharedArrayBuffer) and the app's Content-Security-Policy.
// Secure defaults: contextIsolation on, nodeIntegration off, webSecurity on, navigation
// outside the app and new windows refused, every permission request denied, devtools
// only in unpackaged (development) runs. The preload is unsandboxed because it loads the
// native addon (docs/electron.md says what limits that).
// SMC_RENDERER_MODE=node-integration selects the prototype's simpler mode (the addon
// loaded directly by the page: docs/electron.md explains the trade-off) in unpackaged
// runs only: a packaged app cannot be switched into it from the environment.
import { app, BrowserWindow, net, protocol, session, type WebContents } from 'electron';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { APP_ORIGIN, appResponseHeaders, mayNavigate, resolveAppUrl } from './config';

protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

// Compiled to app/electron/dist/app/electron/main.js; the renderer build is app/dist.
const distDir = path.join(__dirname, '..', '..', '..', '..', 'dist');
const preload = path.join(__dirname, 'preload.js');
const devTools = !app.isPackaged;

function secureWindow(): BrowserWindow {
  return new BrowserWindow({
    width: 1280,
    height: 860,
    webPreferences: {
      preload,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      // A native addon cannot load in a sandboxed preload.
      sandbox: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      webviewTag: false,
      disableBlinkFeatures: 'Auxclick',
      devTools,
    },
  });
}

/** The prototype's mode: the page itself loads the addon. Opt-in in development runs,
 *  for trusted content only. */
function nodeIntegrationWindow(): BrowserWindow {
  return new BrowserWindow({
    width: 1280,
    height: 860,
    webPreferences: {
      contextIsolation: false,
      nodeIntegration: true,
      sandbox: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      disableBlinkFeatures: 'Auxclick',
      devTools,
    },
  });
}

/** No navigation away from the app, no new windows, no <webview>, in any web contents. */
function confine(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!mayNavigate(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!mayNavigate(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

async function createWindow(): Promise<void> {
  protocol.handle('app', async (request) => {
    const file = resolveAppUrl(distDir, request.url);
    if (file === null) return new Response('forbidden', { status: 403, headers: appResponseHeaders() });
    const upstream = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(upstream.headers);
    for (const [k, v] of Object.entries(appResponseHeaders())) headers.set(k, v);
    return new Response(upstream.body, { status: upstream.status, headers });
  });
  // The dashboard needs no permission (camera, notifications, ...): refuse them all.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  const nodeMode = !app.isPackaged && process.env.SMC_RENDERER_MODE === 'node-integration';
  const win = nodeMode ? nodeIntegrationWindow() : secureWindow();
  await win.loadURL(`${APP_ORIGIN}/index.html`);
}

app.on('web-contents-created', (_event, contents) => confine(contents));
app.whenReady().then(createWindow, (e: unknown) => {
  console.error('electron: failed to start', e);
  app.exit(1);
});
app.on('window-all-closed', () => app.quit());
