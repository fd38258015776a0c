import type { BrowserContext, Page } from 'playwright-core';

// The classic Jupyter notebook (6.4) as a person drives it: its own element ids, stable across 6.x.

/** From the file list (`…/tree`): New → Python 3; resolves with the notebook's page, opened in a new tab. */
export async function newPythonNotebook(context: BrowserContext, tree: Page): Promise<Page> {
  await tree.locator('#new-dropdown-button').click();
  const [page] = await Promise.all([
    context.waitForEvent('page', { timeout: 30_000 }),
    tree.locator('#kernel-python3 a').click(),
  ]);
  await waitForIdleKernel(page);
  return page;
}

/** Waits until the kernel is connected (over its WebSocket) and idle. */
export async function waitForIdleKernel(page: Page): Promise<void> {
  await page.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ timeout: 60_000 });
}

/** Types `code` into the last cell and runs it (Shift+Enter), as a person would. */
export async function runInLastCell(page: Page, code: string): Promise<void> {
  await page.locator('.cell .CodeMirror').last().click();
  await page.keyboard.type(code);
  await page.keyboard.press('Shift+Enter');
}

/**
 * Ctrl+S, then waits for the server to answer the save (its PUT of the notebook's contents). The UI's
 * "Notebook saved" is a 2 s notification: on a loaded machine it can come and go between two polls, so
 * the save itself is what this waits on.
 */
export async function save(page: Page): Promise<void> {
  const saved = page.waitForResponse(
    (r) => r.request().method() === 'PUT' && /\/api\/contents\/.+\.ipynb$/.test(new URL(r.url()).pathname),
    { timeout: 30_000 },
  );
  await page.keyboard.press('Escape'); // command mode: Ctrl+S saves from either mode, this keeps it plain
  await page.keyboard.press('Control+s');
  const response = await saved;
  if (!response.ok()) throw new Error(`saving the notebook answered ${response.status()}`);
}
