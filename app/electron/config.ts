// Pure configuration logic of the Electron main process: unit-tested without the
// Electron binary (app/test/electron-logic.test.mjs), and applied to every response in
// the isolated-world e2e so the dashboard is checked under the same headers in Chromium.
import * as path from 'node:path';

/** The app's only origin. */
export const APP_ORIGIN = 'app://dashboard';

/** True for a URL of the app's origin. (WHATWG URL gives a custom scheme the origin
 *  'null' in Node, so scheme and host are compared.) */
function isAppUrl(u: URL): boolean {
  return u.protocol === 'app:' && u.host === 'dashboard';
}

export const isolationHeaders: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** The headers of every app:// response: cross-origin isolation (SharedArrayBuffer needs
 *  it) and a Content-Security-Policy that lets the page run only the app's own files. */
export function appResponseHeaders(): Record<string, string> {
  const headers: Record<string, string> = { ...isolationHeaders, 'X-Content-Type-Options': 'nosniff' };
  // Written as one literal so electronegativity's CSP check finds and evaluates it. The
  // page needs nothing from elsewhere: scripts, styles, workers and fetches are its own;
  // images are drawn from channel data (data:/blob: for snapshots). No inline script or
  // style, no eval, no plugins, no frames, no forms, no <base>.
  headers['Content-Security-Policy'] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  return headers;
}

/** Maps an app:// URL to a file inside distDir, or null when it escapes it. */
export function resolveAppUrl(distDir: string, url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (!isAppUrl(parsed)) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(parsed.pathname);
  } catch {
    return null;
  }
  if (pathname === '/' || pathname === '') pathname = '/index.html';
  const file = path.normalize(path.join(distDir, pathname));
  const root = path.normalize(distDir + path.sep);
  return file.startsWith(root) ? file : null;
}

/** Whether the renderer may navigate to `url`: only within the app itself. Everything
 *  else (http(s), file:, other schemes) is refused, not opened elsewhere. */
export function mayNavigate(url: string): boolean {
  try {
    return isAppUrl(new URL(url));
  } catch {
    return false;
  }
}
