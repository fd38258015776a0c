import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium, which scripts/ensure-system-deps.mjs installs. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium, headless, for every browser test. No skipping: a machine that cannot run the test is set
 * up wrong, and the message says how to fix it.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run \`node scripts/ensure-system-deps.mjs\` (as root) to install chromium`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
