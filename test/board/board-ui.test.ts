// Drives the real Bull Board page in headless Chromium (Debian's package, via playwright-core),
// behind basic auth, over a real worker's completed and dead-lettered jobs.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../../board/board-server.js';
import { launchChromium, requireChromium } from './browser.js';
import { type BoardFixture, startBoardFixture } from './fixture.js';

const credentials = { username: 'ops', password: 'board-test-secret' };

let fixture: BoardFixture | undefined;
let board: Board;
let browser: Browser | undefined;
let page: Page;

beforeAll(async () => {
  // Never a skip: without a browser this test cannot say anything about the page.
  requireChromium("the board's browser test");
  fixture = await startBoardFixture();
  board = await fixture.startBoard({ BOARD_USERNAME: credentials.username, BOARD_PASSWORD: credentials.password });
  browser = await launchChromium();
  // The page's own API calls need the credentials too, so this also proves the SPA works behind auth.
  const context = await browser.newContext({ httpCredentials: credentials });
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await fixture?.close();
});

/** Bull Board renders client-side: wait for the text rather than reading the first HTML. */
async function visible(text: string) {
  const locator = page.getByText(text, { exact: true }).first();
  await locator.waitFor({ state: 'visible', timeout: 20_000 });
  return locator.isVisible();
}

describe('Bull Board in a browser', () => {
  it('lists the operations queue and the dead-letter queue', async () => {
    const response = await page.goto(board.url);
    expect(response?.status()).toBe(200);

    const { operations, deadLetter } = fixture!.queues;
    expect(await visible(operations.name)).toBe(true);
    expect(await visible(deadLetter.name)).toBe(true);
  });

  it('shows the completed job on the operations queue', async () => {
    const { queues, completedJobId } = fixture!;
    await page.goto(`${board.url}/queue/${queues.operations.name}?status=completed`);
    expect(await visible(completedJobId)).toBe(true);
    expect(await visible('get-user')).toBe(true);
  });

  it('shows the dead-lettered job, with its reason, on the dead-letter queue', async () => {
    const { queues, poisonJobId } = fixture!;
    await page.goto(`${board.url}/queue/${queues.deadLetter.name}?status=waiting`);
    expect(await visible(poisonJobId)).toBe(true);
    await page
      .getByText(/PoisonPayloadError: invalid create-user payload/)
      .first()
      .waitFor({ timeout: 20_000 });
  });
});
