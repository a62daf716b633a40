/**
 * Debian's Chromium (/usr/bin/chromium, installed by scripts/setup.sh)
 * driven by puppeteer-core: no browser download, headless, no sandbox
 * (the tests run as root). Screenshots go to test-artifacts/ (gitignored),
 * rewritten on every run.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { repoRoot } from './kernel.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(repoRoot, 'test-artifacts');

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    defaultViewport: { width: 1280, height: 900 },
  });
}

/** Saves a full-page screenshot as test-artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Waits until `expression` (JavaScript run in the page, a string so this
 * Node-side code needs no DOM types) is true.
 */
export async function pageUntil(page: Page, what: string, expression: string, timeoutMs = 20_000): Promise<void> {
  try {
    await page.waitForFunction(expression, { timeout: timeoutMs, polling: 50 });
  } catch (error) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${(error as Error).message}`, { cause: error });
  }
}

/** The text of the first element matching `selector` in the page, or null when there is none. */
export async function textOf(page: Page, selector: string): Promise<string | null> {
  return (await page.evaluate(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`)) as string | null;
}
