// The isolated-world checks of the end-to-end tests: the dashboard runs next to a Chromium
// extension whose content script (an isolated world of the page's renderer, as Electron's
// preload is) runs the preload's bridge (app/electron/bridge.ts) with the TypeScript peer
// in place of the addon (app/test/isolated-world/). The dashboard finds window.smcNative and
// takes the Electron route: its real ElectronTransport posts the buffer across worlds and
// calls the bridge synchronously. These hooks add what only this route has to prove.
import { waitFor } from './e2e-scenario.mjs';

/** playwright launch options that load the unpacked extension in `extDir`. */
export function extensionLaunchOptions(extDir, executablePath) {
  return {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    // playwright passes --disable-extensions by default: without removing it the
    // extension does not load (and the run fails at the first check, not skips).
    ignoreDefaultArgs: ['--disable-extensions'],
    args: [
      `--disable-extensions-except=${extDir}`, `--load-extension=${extDir}`, '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  };
}

/** What the content script sees of the newest channel (its reply to a window message). */
function probe(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const id = Math.random();
        const timer = setTimeout(() => reject(new Error('the isolated world did not answer a probe within 5 s')), 5000);
        const on = (ev) => {
          if (ev.data?.smcProbeReply !== id) return;
          window.removeEventListener('message', on);
          clearTimeout(timer);
          resolve(ev.data);
        };
        window.addEventListener('message', on);
        window.postMessage({ smcProbe: id }, location.origin);
      }),
  );
}

export function isolatedWorldHooks(t) {
  const { check, log } = t;
  return {
    async afterConnect(page) {
      // An inline script is what the CSP must stop (it logs one console error, expected).
      t.expectPageError(/inline script violates the following Content Security Policy directive 'script-src 'self''/);
      const env = await page.evaluate(async () => {
        const violations = [];
        document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
        const s = document.createElement('script');
        s.textContent = 'window.__smcInlineRan = true';
        document.head.appendChild(s);
        s.remove();
        // The violation event is queued as a task.
        await new Promise((r) => setTimeout(r, 0));
        return {
          inline: window.__smcInlineRan === true ? 'ran' : `blocked (${violations.join(', ') || 'no violation event'})`,
          bridge: typeof window.smcNative,
        methods: window.smcNative ? Object.keys(window.smcNative).sort().join(',') : '',
        peerKind: window.__smc.stats().peerKind,
        };
      });
      if (
        !check(
          'the extension loaded: its isolated world exposed window.smcNative to the page',
          env.bridge === 'object' && env.methods === 'attach,close,loadPlugin,stats,unloadPlugin,wake',
          `typeof window.smcNative = ${env.bridge}${env.methods ? ` (${env.methods})` : ''}`,
        )
      ) {
        return false;
      }
      check("the page runs under the Electron app's Content-Security-Policy (app/electron/config.ts)", env.inline.startsWith('blocked (script-src'), `an inline script: ${env.inline}`);
      check('the dashboard attached through the bridge (Electron route), not a Web Worker of its own', env.peerKind === 'electron', `peer kind ${env.peerKind}`);

      // Shared, not copied: the isolated world reads the page's ring index as the page
      // moves it. A copy would keep the value it had when it was posted.
      let p1;
      let p2;
      let page1;
      let page2;
      try {
        page1 = await page.evaluate(() => Atomics.load(new Int32Array(window.__smc.channel.buffer), 96));
        p1 = await probe(page);
        page2 = await page.evaluate(async (before) => {
          const ch = window.__smc.channel;
          const ctrl = new Int32Array(ch.buffer);
          for (let i = 0; i < 100; i++) ch.send(new Uint8Array(64));
          while (Atomics.load(ctrl, 96) === before) await new Promise((r) => setTimeout(r, 1));
          return Atomics.load(ctrl, 96);
        }, p1.r2nWriteIndex);
        p2 = await probe(page);
      } catch (e) {
        check('the buffer is shared across worlds', false, e.message);
        return false;
      }
      const byteLength = await page.evaluate(() => window.__smc.channel.buffer.byteLength);
      check(
        'the isolated world is a separate JS world of a cross-origin-isolated page',
        p1.isolatedWorld === true && p1.crossOriginIsolated === true,
        `page globals visible there: ${!p1.isolatedWorld}; crossOriginIsolated there: ${p1.crossOriginIsolated}`,
      );
      check(
        'the buffer is shared across worlds (not copied)',
        p1.bufferIsShared && p1.byteLength === byteLength && page1 > 0 && p1.r2nWriteIndex >= page1 && page2 > p1.r2nWriteIndex && p2.r2nWriteIndex >= page2,
        `SharedArrayBuffer of ${p1.byteLength} B there (${byteLength} B in the page); R2N write_index page ${page1} -> isolated world ${p1.r2nWriteIndex}, after 100 sends page ${page2} -> isolated world ${p2.r2nWriteIndex}`,
      );

      // Doorbells: the dashboard pings 20 times a second through echo, both sides park
      // in between, so a ping has to wake the parked peer (page -> bridge -> Atomics.notify
      // -> the peer's Atomics.wait) and its echo the parked page (the peer's post ->
      // bridge -> Atomics.notify -> the page's Atomics.waitAsync). Both sides also wake
      // after a 100 ms park timeout; a median round trip far below it shows the doorbells,
      // not the timeouts, woke them. (A timeout that fires while a doorbell is still on
      // its way also counts as one that 'found work', so that counter is reported, not
      // required to be zero.)
      const s0 = await page.evaluate(() => ({ ...window.__smc.channel.getStats(), pings: window.__smc.stats().pingsReceived }));
      const enough = await waitFor(page, (n) => window.__smc.stats().pingsReceived >= n, s0.pings + 40, 10_000, '40 echo pings', log);
      const s1 = await page.evaluate(() => ({ ...window.__smc.channel.getStats(), pings: window.__smc.stats().pingsReceived, rtt: window.__smc.stats().latest }));
      const pings = s1.pings - s0.pings;
      const toPeer = s1.doorbellsToPeer - s0.doorbellsToPeer;
      const fromPeer = s1.doorbellsFromPeer - s0.doorbellsFromPeer;
      const lost = s1.parkTimeoutWakes - s0.parkTimeoutWakes;
      check(
        'page -> peer and peer -> page doorbells wake the parked side across worlds',
        enough && toPeer >= pings / 2 && fromPeer >= pings / 2 && s1.rtt.p50 < 5,
        `${pings} idle echo pings: ${toPeer} page -> peer wakes, ${fromPeer} peer -> page doorbells, ${lost} park timeouts that found work; round trip p50 ${s1.rtt.p50.toFixed(2)} ms, p99 ${s1.rtt.p99.toFixed(2)} ms`,
      );
      // Bad requests from the page are refused in the isolated world, and the reason comes
      // back to the page as an Error (through the shim, as through contextBridge).
      const refusals = await page.evaluate(async () => {
        const api = window.smcNative;
        const outcome = (p) => p.then(() => 'accepted', (e) => `${e.name}: ${e.message}`);
        const attach = (token, buffer, peer = { handler: 'echo' }) => {
          if (buffer !== undefined) window.postMessage({ smcAttach: token, buffer }, location.origin);
          return outcome(api.attach(token, JSON.stringify({ rings: { r2n: 4096, n2r: 4096 }, peer })));
        };
        const r = {};
        r.unknownPlugin = await attach('smc-e2ea-1', new SharedArrayBuffer(10240), { plugin: '../../../tmp/evil' });
        r.notShared = await attach('smc-e2eb-2', new ArrayBuffer(10240));
        r.tooSmall = await attach('smc-e2ec-3', new SharedArrayBuffer(1024));
        r.noRegion = await attach('smc-e2ed-4', new SharedArrayBuffer(10240));
        r.secondAttach = await attach('smc-e2ed-4', new SharedArrayBuffer(10240));
        try {
          window.__smc.channel.loadPlugin('/usr/lib/x86_64-linux-gnu/libc.so.6', {});
          r.loadPath = 'accepted';
        } catch (e) {
          r.loadPath = `${e.name}: ${e.message}`;
        }
        return r;
      });
      const expect = {
        unknownPlugin: /unknown plugin "\.\.\/\.\.\/\.\.\/tmp\/evil" in request\.peer: this app's plugins are echo, image-filter, image-source/,
        notShared: /the buffer for token smc-e2eb-2 is ArrayBuffer, not a SharedArrayBuffer/,
        tooSmall: /RangeError: .*has 1024 bytes, too small for the announced rings/,
        noRegion: /RangeError: .*region header of token smc-e2ed-4 says rings r2n 0 \/ n2r 0/,
        secondAttach: /token smc-e2ed-4 was already used; tokens are single-use/,
        loadPath: /unknown plugin "\/usr\/lib\/x86_64-linux-gnu\/libc\.so\.6" in loadPlugin/,
      };
      const wrong = Object.entries(expect).filter(([k, re]) => !re.test(refusals[k] ?? ''));
      check(
        'bad attach requests and unknown plugin names are refused, the reason back in the page',
        wrong.length === 0,
        wrong.length ? wrong.map(([k]) => `${k}: ${refusals[k]}`).join(' | ') : Object.keys(expect).map((k) => `${k}: "${refusals[k].slice(0, 90)}"`).join(" | "),
      );

      // Plugins by name on the live channel: the page swaps its echo peer for image-source
      // with a config, sees its frames, unloads it and loads echo back.
      const swap = await page.evaluate(async () => {
        const ch = window.__smc.channel;
        const until = async (cond) => {
          const t0 = performance.now();
          while (!cond()) {
            if (performance.now() - t0 > 5000) return false;
            await new Promise((r) => setTimeout(r, 10));
          }
          return true;
        };
        const f0 = window.__smc.stats().image.frames;
        ch.loadPlugin('image-source', { width: 64, height: 48, fps: 60 });
        const framed = await until(() => window.__smc.stats().image.frames >= f0 + 5);
        const img = window.__smc.stats().image;
        const unloaded = ch.unloadPlugin();
        ch.loadPlugin('echo', {});
        const p0 = window.__smc.stats().pingsReceived;
        const echoing = await until(() => window.__smc.stats().pingsReceived >= p0 + 3);
        return { framed, frames: img.frames - f0, width: img.width, height: img.height, unloaded, echoing };
      });
      check(
        'loadPlugin / unloadPlugin by name on a live channel, with the plugin\'s config',
        swap.framed && swap.width === 64 && swap.height === 48 && swap.unloaded === true && swap.echoing,
        `image-source loaded: ${swap.frames} frames of ${swap.width}x${swap.height}; unloadPlugin() ${swap.unloaded}; echo loaded back: pings ${swap.echoing ? 'answered' : 'not answered'}`,
      );
      return true;
    },

    async afterImage(page) {
      const s = await page.evaluate(() => ({ peer: window.__smc.channel.getStats().peer, frames: window.__smc.stats().image.frames, handler: window.__smc.hub.config.handler }));
      const p = await probe(page);
      check(
        'the image source runs in the isolated world (the bridge\'s plugin image-source on its Worker)',
        s.handler === 'image-source' && s.peer.framesSent > 0 && p.openChannels === 1,
        `peer reports ${s.peer.framesSent ?? 'no'} frames sent, the page received ${s.frames}; ${p.peersStarted} peers started by the isolated world, ${p.openChannels} channel open`,
      );
    },

    async afterConfig(page) {
      // Every retired channel's peer has ended and the bridge holds only the live one.
      const deadline = Date.now() + 10_000;
      let p = await probe(page);
      while (Date.now() < deadline && !(p.openChannels === 1 && p.peersRunning === 1)) {
        await page.waitForTimeout(100);
        p = await probe(page);
      }
      const retired = await page.evaluate(() => window.__smc.retired.length);
      check(
        'cleanup: a retired channel closes its token in the bridge and its peer exits',
        p.openChannels === 1 && p.peersRunning === 1 && p.pendingAttach.waiting === 0 && p.pendingAttach.arrived === 0,
        `${p.peersStarted} peers started, ${p.peersRunning} running, ${p.openChannels} open in the bridge, ${retired} channels retired by the page, pending attaches ${JSON.stringify(p.pendingAttach)}`,
      );
    },
  };
}
