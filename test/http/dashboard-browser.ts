import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (scripts/test-tools installs it). */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface OpenBrowser {
  page: Page;
  context: BrowserContext;
  /** Every URL the browser requested, in order. */
  requests: string[];
  /** Uncaught page errors and console errors, which a test expects to be none. */
  errors: string[];
  /** Main-frame navigations (a reload would add one). */
  navigations: () => number;
  close: () => Promise<void>;
}

/** Headless Chromium with a fresh profile, recording what the page asks for. */
export async function openBrowser(viewport = { width: 1440, height: 900 }): Promise<OpenBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'kscore-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  let navigations = 0;
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations++;
  });
  return {
    page,
    context,
    requests,
    errors,
    navigations: () => navigations,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** The page's globals a wait reads (the tests are compiled without the DOM library). */
type PageGlobals = { document: { body: { dataset: Record<string, string | undefined> } } };

/** Waits until the number in `<body data-KEY>` reaches `min`. */
export async function waitForBodyCount(page: Page, key: 'scrapes' | 'failures', min: number, timeoutMs = 20_000): Promise<void> {
  // A function, not a string: the page's CSP forbids eval, which string predicates need.
  await page.waitForFunction(
    ([k, m]) => Number((globalThis as unknown as PageGlobals).document.body.dataset[k] ?? 0) >= m,
    [key, min] as const,
    { timeout: timeoutMs },
  );
}

/** Waits until the page has made `n` more successful scrapes than `after`; returns the new count. */
export async function waitForScrapes(page: Page, after: number, n = 1, timeoutMs = 20_000): Promise<number> {
  await waitForBodyCount(page, 'scrapes', after + n, timeoutMs);
  return scrapes(page);
}

/** How many scrapes of /metrics the page has made so far. */
export async function scrapes(page: Page): Promise<number> {
  return Number((await page.locator('body').getAttribute('data-scrapes')) ?? 0);
}

/** The origins (scheme://host:port) of `urls` other than `origin`; data: URLs are not requests to anyone. */
export function foreignOrigins(urls: readonly string[], origin: string): string[] {
  return [...new Set(urls.filter((u) => !u.startsWith('data:')).map((u) => new URL(u).origin))].filter((o) => o !== origin);
}
