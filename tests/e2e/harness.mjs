// Shared by the browser tests: serve the repository with `loopscope serve` (the same
// server `make run` uses, COOP/COEP included) and drive Debian's Chromium with
// playwright-core. Never downloads a browser.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { before, after } from 'node:test';

export const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const artifacts = path.join(root, 'artifacts');

export async function startServer() {
  const bin = process.env.LOOPSCOPE_BIN || path.join(root, 'target/debug/loopscope');
  const child = spawn(bin, ['serve', '--port', '0', '--dir', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let buffered = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`loopscope serve printed no address: ${stderr}`)), 15000);
    child.stdout.on('data', (d) => {
      buffered += d;
      // Its last requests, for a page that does not load (see openPage).
      serverLog.push(...String(d).split('\n').filter(Boolean));
      serverLog.splice(0, Math.max(0, serverLog.length - 40));
      const m = buffered.match(/http:\/\/[^\s]+\//);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
    child.on('exit', (code) => reject(new Error(`loopscope serve exited ${code}: ${stderr}`)));
  });
  return {
    url,
    async stop() { child.kill(); await once(child, 'exit').catch(() => {}); },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Threads named "DedicatedWorker" in Chromium's processes (Linux /proc; 0 elsewhere). */
function workerThreads() {
  let n = 0;
  let pids = [];
  try { pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)); } catch { return 0; }
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chromium')) continue;
      for (const t of readdirSync(`/proc/${pid}/task`)) {
        if (readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').startsWith('DedicatedWorker')) n++;
      }
    } catch { /* the process or thread ended */ }
  }
  return n;
}

/**
 * Waits until the browser runs no Web Worker at all — none in its DevTools protocol's
 * target list (`Target.getTargets`), and no "DedicatedWorker" thread left in its
 * processes — and returns what is still there after `timeout` ms (empty when none).
 */
export async function workersLeft(browser, timeout = 3000) {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const deadline = Date.now() + timeout;
    for (;;) {
      const { targetInfos } = await cdp.send('Target.getTargets');
      const left = targetInfos.filter((t) => t.type === 'worker').map((w) => `target ${w.title || w.url}`);
      const threads = workerThreads();
      if (threads) left.push(`${threads} DedicatedWorker thread(s)`);
      if (left.length === 0 || Date.now() > deadline) return left;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await cdp.detach();
  }
}

/** The served simulator's last request lines (`GET /www/main.js 200`). */
const serverLog = [];

/** A page on the served simulator, with its console and errors collected. */
export async function openPage(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  const log = [];
  page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  try {
    await page.goto(url);
  } catch (e) {
    // Loading the page is not what these tests test. Once in five busy-core runs of the
    // suite, a navigation's load event did not come in 30 s: say so, with what the
    // server answered, and load it once more.
    console.error(`# openPage: ${e.message.split('\n')[0]}; the server's last requests:\n#   ${serverLog.slice(-12).join('\n#   ')}`);
    await page.goto(url);
  }
  await page.waitForFunction(() => window.loopscope?.ready === true, null, { timeout: 20000 })
    .catch((e) => { throw new Error(`${e.message}\n${log.join('\n')}`); });
  return { page, log };
}

/**
 * One served simulator and one browser for a test file: registers the file's
 * before/after hooks and returns an object they fill in (`server`, `browser`, and with
 * `{ page: true }` a `page` on the simulator with its `log`).
 */
export function suite({ page: withPage = false } = {}) {
  const s = {};
  before(async () => {
    s.server = await startServer();
    s.browser = await launchBrowser();
    if (withPage) ({ page: s.page, log: s.log } = await openPage(s.browser, `${s.server.url}#view=lab`));
  });
  after(async () => {
    await s.browser?.close();
    await s.server?.stop();
  });
  return s;
}
