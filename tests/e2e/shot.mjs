// Dev aid: `node shot.mjs [hash] [run]` saves artifacts/shot.png of the page.
import { mkdirSync } from 'node:fs';
import { startServer, launchBrowser, openPage, artifacts } from './harness.mjs';
const [hash = '', run = ''] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const server = await startServer();
const browser = await launchBrowser();
const { page, log } = await openPage(browser, server.url + hash);
if (run) {
  await page.click(`[data-run="${run}"]`);
  await page.waitForFunction(() => document.body.dataset.running === 'false', null, { timeout: 120000, polling: 200 });
}
await page.screenshot({ path: `${artifacts}/shot.png`, fullPage: true });
console.log(log.join('\n'));
await browser.close(); await server.stop();
