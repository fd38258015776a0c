import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { launchChromium as launchHeadless } from './chromium.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Screenshots of the dashboard's pages: test artefacts, git-ignored (test-results/). */
export const SHOTS_DIR = join(REPO_ROOT, 'test-results', 'dashboard');

/** Debian's Chromium (./chromium.ts), with the screenshots' folder made. */
export async function launchChromium(): Promise<Browser> {
  const browser = await launchHeadless();
  await mkdir(SHOTS_DIR, { recursive: true });
  return browser;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(SHOTS_DIR, `${name}.png`);
  // Generous: on a loaded two-core machine a tall page takes a while to paint.
  await page.screenshot({ path, fullPage: true, timeout: 120_000 });
  return path;
}

/** axe-core's critical and serious violations on the page, as "rule: target" lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'critical' || v.impact === 'serious')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')}`));
}

/** How wide the page is laid out, against the viewport: > width means it scrolls sideways. */
export function scrollWidth(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
}

/** Drops a file on the element, as a user dragging it from the desktop does. */
export async function dropFile(page: Page, selector: string, name: string, bytes: Uint8Array, type: string) {
  const transfer = await page.evaluateHandle(
    ({ name, base64, type }) => {
      const raw = atob(base64);
      const data = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([data], name, { type }));
      return dt;
    },
    { name, base64: Buffer.from(bytes).toString('base64'), type },
  );
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: transfer });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: transfer });
}

/**
 * The answers to `page`'s own page loads from now on, as "status path", redirects included: what a failed
 * wait for an address prints, so the failure says where the tab stopped and why.
 */
export function pageLoadsOf(page: Page): string[] {
  const loads: string[] = [];
  page.on('response', (res) => {
    if (res.request().isNavigationRequest() && res.frame() === page.mainFrame())
      loads.push(`${res.status()} ${new URL(res.url()).pathname}`);
  });
  return loads;
}
