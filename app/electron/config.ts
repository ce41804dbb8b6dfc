// Pure configuration logic of the Electron main process: unit-tested without the
// Electron binary (app/test/electron-config.test.mjs).
import * as path from 'node:path';

export type RendererMode = 'isolated' | 'node-integration';

export const isolationHeaders: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Maps an app:// URL to a file inside distDir, or null when it escapes it. */
export function resolveAppUrl(distDir: string, url: string): string | null {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return null;
  }
  if (pathname === '/' || pathname === '') pathname = '/index.html';
  const file = path.normalize(path.join(distDir, pathname));
  const root = path.normalize(distDir + path.sep);
  return file.startsWith(root) ? file : null;
}

export interface WindowOptions {
  width: number;
  height: number;
  webPreferences: {
    preload: string;
    contextIsolation: boolean;
    nodeIntegration: boolean;
    sandbox: boolean;
  };
}

/** BrowserWindow options: secure by default; 'node-integration' is the prototype's mode. */
export function windowOptions(mode: RendererMode, preload: string): WindowOptions {
  const isolated = mode === 'isolated';
  return {
    width: 1280,
    height: 860,
    webPreferences: {
      preload,
      contextIsolation: isolated,
      nodeIntegration: !isolated,
      // A native addon cannot load in a sandboxed preload.
      sandbox: false,
    },
  };
}
