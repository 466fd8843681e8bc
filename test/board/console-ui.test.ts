// The console page in headless Chromium (Debian's package, via playwright-core), behind basic
// auth, over a real worker: search by user finds a job Redis pruned; a job's timeline shows its
// attempts, its move and a redrive by the operator; a dry run, then a bulk redrive with a rate
// limit and progress; Redrive these on a search for dead-lettered jobs; a payload with <script>
// shows as text; a POST without the session's CSRF token is refused; a read-only login sees no buttons;
// and neither the console nor Bull Board asks any other host for anything (no web fonts).
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../../board/board-server.js';
import { launchChromium, requireChromium } from './browser.js';
import { type BoardFixture, pruneFromRedis, startBoardFixture, waitFor } from './fixture.js';

const credentials = { username: 'alice', password: 'console-ui-secret' };
/** The board's second, read-only login (BOARD_READONLY_USERNAME). */
const viewer = { username: 'bob', password: 'console-ui-viewer' };

let fixture: BoardFixture | undefined;
let board: Board;
let readOnly: Board;
let browser: Browser | undefined;
let page: Page;
const foreignRequests: string[] = [];
const user = randomUUID();
const prunedJobId = randomUUID();
const scriptJobId = randomUUID();

beforeAll(async () => {
  requireChromium("the console's browser test");
  fixture = await startBoardFixture();
  const config = { BOARD_USERNAME: credentials.username, BOARD_PASSWORD: credentials.password };
  board = await fixture.startBoard({
    ...config,
    BOARD_READONLY_USERNAME: viewer.username,
    BOARD_READONLY_PASSWORD: viewer.password,
  });
  readOnly = await fixture.startBoard({ ...config, BOARD_READ_ONLY: true });
  const { lifecycle } = fixture.worker.system;
  await lifecycle.enqueue([{ id: prunedJobId, name: 'get-user', data: { userId: user } }]);
  // Poison whose payload carries markup: it must show as text, never run.
  await lifecycle.enqueue([
    { id: scriptJobId, name: 'create-user', data: { user: { name: '<script>window.pwned=1</script>', id: 42 } } },
  ]);
  await waitFor('both jobs decided', async () => {
    const records = await fixture!.resources.stores.jobs.getMany([prunedJobId, scriptJobId]);
    return records.length === 2 && records.every((r) => r.outcome);
  });
  await fixture.worker.system.history.flush();
  await pruneFromRedis(fixture.queues.operations, prunedJobId);
  browser = await launchChromium();
  const context = await browser.newContext({ httpCredentials: credentials });
  page = await context.newPage();
  page.on('request', (request) => {
    const host = new URL(request.url()).hostname;
    if (host !== '127.0.0.1') foreignRequests.push(request.url());
  });
  page.on('dialog', (dialog) => void dialog.accept());
});

afterAll(async () => {
  await browser?.close();
  await fixture?.close();
});

async function openConsole(on: Board, target: Page = page) {
  await target.goto(`${on.origin}/console`);
  await target.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
}

describe('the console in a browser', () => {
  it('finds by user a job that Redis pruned', async () => {
    expect(await fixture!.queues.operations.getJob(prunedJobId)).toBeUndefined();
    await openConsole(board);
    await page.locator('#search input[name="userId"]').fill(user);
    // The first page (every job) is shown already: wait for the answer to this search, then its rows.
    const answered = page.waitForResponse((r) => r.url().includes(`userId=${user}`));
    await page.locator('#search button[type="submit"]').click();
    await answered;
    await page.locator('#search-status', { hasText: /^\d+ job\(s\)$/ }).waitFor();
    await page.locator(`#results button[data-job="${prunedJobId}"]`).waitFor();
    expect(await page.locator('#results tbody tr').allTextContents()).toHaveLength(1);
    expect(await page.locator('#results tbody tr td').nth(2).textContent()).toBe('completed');
  });

  it('shows a payload with <script> as text, and runs none of it', async () => {
    await page.goto(`${board.origin}/console?job=${scriptJobId}`);
    await page.locator('#timeline-summary', { hasText: '<script>window.pwned=1</script>' }).waitFor();
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator('#timeline-section script').count()).toBe(0);
  });

  it('redrives a job from its timeline, which then shows the move and the redrive by the operator', async () => {
    await openConsole(board);
    await page.goto(`${board.origin}/console?job=${scriptJobId}`);
    await page.locator('#timeline li', { hasText: 'moved to the dead-letter queue' }).first().waitFor();
    expect(await page.locator('#attempts tbody tr').count()).toBe(1);
    await page.locator('#job-actions button[data-action="redrive"]').click();
    await page.locator('#plan-count', { hasText: 'Dry run: 1 job(s) would be redriven.' }).waitFor();
    expect(await page.locator('#plan-warnings li').first().textContent()).toMatch(/not retryable/);
    await page.locator('#plan-confirm').click();
    await page.locator('#progress', { hasText: 'redrive finished: 1 of 1 done' }).waitFor();
    await waitFor('the job dead-lettered again', async () => {
      const record = await fixture!.resources.stores.jobs.get(scriptJobId);
      return record?.gen === 2 && record.outcome === 'dead-lettered';
    });
    await fixture!.worker.system.history.flush();
    await page.goto(`${board.origin}/console?job=${scriptJobId}`);
    await page.locator('#timeline li', { hasText: 'closed by a redrive by board:alice' }).waitFor();
    const attempts = await page.locator('#attempts tbody tr td:first-child').allTextContents();
    expect(attempts).toEqual(['#1', '#2']);
  });

  it('runs a dry run, then a rate-limited bulk redrive of a filtered set with progress, each job once', async () => {
    const poison = [fixture!.poisonJobId, await fixture!.enqueuePoison(), await fixture!.enqueuePoison()];
    await Promise.all(poison.slice(1).map((id) => fixture!.deadLettered(id)));
    await fixture!.deadLettered(scriptJobId, 2);
    await openConsole(board);
    await page.locator('#dlq input[name="errorClass"]').fill('PoisonPayloadError');
    await page.locator('#dlq input[name="rate"]').fill('5');
    await page.locator('#dlq button[data-action="redrive"]').click();
    await page.locator('#plan-count', { hasText: 'Dry run: 4 job(s) would be redriven.' }).waitFor();
    expect(await page.locator('#plan-confirm').textContent()).toBe('Redrive 4 job(s)');
    await page.locator('#plan-confirm').click();
    await page.locator('#progress', { hasText: /redrive: \d of 4 done/ }).waitFor();
    await page.locator('#progress', { hasText: 'redrive finished: 4 of 4 done' }).waitFor({ timeout: 20_000 });
    for (const jobId of [...poison, scriptJobId]) {
      const record = await fixture!.resources.stores.jobs.get(jobId);
      const redrives = record?.marks.filter((m) => m.outcome === 'redriven' && m.by === 'board:alice');
      expect(redrives?.length, jobId).toBe(jobId === scriptJobId ? 2 : 1);
    }
  });

  it('redrives the dead-lettered jobs a search found, through the same dry run and confirmation, each once more', async () => {
    const poison = [fixture!.poisonJobId, scriptJobId];
    const before = new Map<string, number>();
    for (const jobId of poison) {
      const record = await fixture!.resources.stores.jobs.get(jobId);
      before.set(jobId, record?.gen ?? 0);
    }
    // Every poison job back in the DLQ after the bulk redrive above.
    await waitFor('the poison jobs dead-lettered again', async () => {
      const dlq = await fixture!.worker.system.console.list();
      return dlq.length === 4;
    });
    await openConsole(board);
    expect(await page.locator('#search-actions').isVisible()).toBe(false);
    await page.locator('#search select[name="state"]').selectOption('dead-lettered');
    await page.locator('#search input[name="error"]').fill('PoisonPayload');
    const answered = page.waitForResponse((r) => r.url().includes('state=dead-lettered'));
    await page.locator('#search button[type="submit"]').click();
    await answered;
    await page.locator('#search-status', { hasText: /job\(s\)/ }).waitFor();
    expect(await page.locator('#search-status').textContent()).toBe('4 job(s)');
    await page.locator('#redrive-these').click();
    await page.locator('#plan-count', { hasText: 'Dry run: 4 job(s) would be redriven.' }).waitFor();
    await page.locator('#plan-confirm').click();
    await page.locator('#progress', { hasText: 'redrive finished: 4 of 4 done' }).waitFor({ timeout: 20_000 });
    for (const jobId of poison) {
      const record = await fixture!.resources.stores.jobs.get(jobId);
      expect(record?.gen, jobId).toBe((before.get(jobId) ?? 0) + 1);
    }
    // The action is listed among those kept, finished: no Resume button.
    await page.locator('#actions tbody tr', { hasText: 'finished' }).first().waitFor();
    expect(await page.locator('#actions tbody tr').first().locator('button[data-resume]').isVisible()).toBe(false);
  });

  it('shows the charts as inline SVG', async () => {
    await openConsole(board);
    expect(await page.locator('#charts svg').count()).toBe(8);
    await page.selectOption('#chart-window', '1440');
    await page.locator('#charts svg[aria-label^="Completed: "][aria-label$=" in 1440 minutes"]').waitFor();
  });

  it('gives a read-only login no buttons', async () => {
    const other = await browser!.newPage({ httpCredentials: credentials });
    await openConsole(readOnly, other);
    expect(await other.locator('#who').textContent()).toMatch(/read-only/);
    expect(await other.locator('#dlq-section').isVisible()).toBe(false);
    await other.goto(`${readOnly.origin}/console?job=${scriptJobId}`);
    await other.locator('#timeline-summary', { hasText: 'dead-lettered' }).waitFor();
    expect(await other.locator('#job-actions button').count()).toBe(0);
    await other.close();
  });

  it("refuses the operator's POST from the page without the session's CSRF token, and takes it with the token", async () => {
    await openConsole(board);
    const statuses = await page.evaluate(async () => {
      const plan = (headers: Record<string, string>) =>
        fetch('/api/console/dlq/plan', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ action: 'redrive', where: { op: 'create-user' } }),
        }).then((res) => res.status);
      const { csrfToken } = (await (await fetch('/api/console/session')).json()) as { csrfToken: string };
      return {
        without: await plan({}),
        forged: await plan({ 'x-csrf-token': 'forged' }),
        with: await plan({ 'x-csrf-token': csrfToken }),
      };
    });
    expect(statuses).toEqual({ without: 403, forged: 403, with: 200 });
  });

  it("gives the read-only login beside alice's no buttons, and the API answers it 403", async () => {
    const other = await browser!.newPage({ httpCredentials: viewer });
    await openConsole(board, other);
    expect(await other.locator('#who').textContent()).toMatch(/board:bob \(read-only\)/);
    expect(await other.locator('#dlq-section').isVisible()).toBe(false);
    await other.goto(`${board.origin}/console?job=${scriptJobId}`);
    await other.locator('#timeline-summary', { hasText: 'dead-lettered' }).waitFor();
    expect(await other.locator('#job-actions button').count()).toBe(0);
    const status = await other.evaluate(async () => {
      const res = await fetch('/api/console/dlq/plan', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'redrive', where: { op: 'create-user' } }),
      });
      return res.status;
    });
    expect(status).toBe(403);
    await other.close();
  });

  it('asks no other host for anything, Bull Board included', async () => {
    await page.goto(`${board.origin}/admin/queues`);
    await page.getByText(fixture!.queues.deadLetter.name, { exact: true }).first().waitFor({ timeout: 20_000 });
    // The header's link to the console (Bull Board's uiConfig.miscLinks), in its menu.
    await page.locator('ul[class*="actions"] > li').last().locator('button').click();
    await page.getByText('Console: find jobs').first().waitFor();
    expect(foreignRequests).toEqual([]);
  });
});
