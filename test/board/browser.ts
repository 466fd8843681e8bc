// Headless Chromium for the board's browser tests (Debian's package, driven through playwright-core),
// with nothing of its own talking to the network. Never a skip: without a browser these tests
// cannot say anything about the pages, so a missing one fails with what to install.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Throws, naming the package, when Chromium is not installed; `needer` says which test needs it. */
export function requireChromium(needer: string): void {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install chromium (${needer} needs it)`);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
