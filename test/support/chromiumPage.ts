/**
 * Real Chromium on a page of the Vite dev server at 127.0.0.1 (a secure context, as OPFS and IndexedDB
 * tests need), for tests that import source modules into the page with `import('/src/…')`.
 */
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright';
import { createServer, type ViteDevServer } from 'vite';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const repo = fileURLToPath(new URL('../../', import.meta.url));

export interface ChromiumPage {
  page: Page;
  origin: string;
  close(): Promise<void>;
}

/** `port` is a first choice (another is taken when it is busy). */
export async function openChromiumPage(port: number): Promise<ChromiumPage> {
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.close();
  };
  try {
    server = await createServer({ root: repo, configFile: `${repo}vite.config.ts`, logLevel: 'error', server: { port, strictPort: false, host: '127.0.0.1' } });
    await server.listen();
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage();
    const address = server.httpServer?.address();
    const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
    // A small static file of the origin, not the studio's page: the tests import only the modules they
    // test, and the whole studio through the dev server can take longer than a navigation timeout on a
    // busy machine.
    await page.goto(`${origin}/demo/bfcl-v3/SOURCE.md`, { timeout: 110_000 });
    return { page, origin, close };
  } catch (e) {
    await close();
    throw e;
  }
}
