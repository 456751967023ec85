// Shared by the UI end-to-end test and bench/ui_bench.mjs: where the built UI
// and Debian's Chromium are, and playwright-core (installed into a temporary
// folder like the integration tests' npm packages) to drive Chromium headless.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { installPackages } from '../../integration/lib/npm.mjs';
import { removeDir } from '../../integration/lib/server.mjs';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// playwright-core only (no bundled browsers): it drives the system Chromium
// over the DevTools protocol.
export const kPlaywrightPackages = { 'playwright-core': '1.65.1' };

// The built UI (ui/dist); ARIADNE_UI_DIR overrides. Throws with what to do
// when it has not been built.
export function uiDistDir() {
  const dir = process.env.ARIADNE_UI_DIR || path.join(repoRoot, 'ui', 'dist');
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    throw new Error(
      `the web UI is not built: ${path.join(dir, 'index.html')} does not exist. ` +
        'Build it first: npm --prefix ui ci && npm --prefix ui run build ' +
        '(./setup.sh build does both), or point ARIADNE_UI_DIR at a built copy');
  }
  return dir;
}

// Debian's chromium (setup.sh installs it); CHROMIUM_BIN overrides.
export function chromiumPath() {
  const bin = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
  if (!fs.existsSync(bin)) {
    throw new Error(
      `${bin} does not exist: install Chromium (apt-get install --no-install-recommends chromium, ` +
        'or ./setup.sh build) or set CHROMIUM_BIN');
  }
  return bin;
}

// Installs playwright-core and launches headless Chromium. Returns
// {browser, npmDir}; the caller closes the browser and removes npmDir.
export async function launchChromium() {
  const executablePath = chromiumPath();
  const npm = await installPackages('playwright', kPlaywrightPackages);
  try {
    const { chromium } = npm.require('playwright-core');
    const browser = await chromium.launch({
      executablePath,
      headless: true,
      // No sandbox: the tests may run as root in a container, where Chromium's
      // sandbox cannot start. Only local, test-generated pages are opened.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      timeout: 60_000,
    });
    return { browser, npmDir: npm.dir };
  } catch (e) {
    await removeDir(npm.dir);
    throw e;
  }
}
