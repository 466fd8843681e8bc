// The console page the board serves at /console: one HTML document, one script, one stylesheet,
// all from this process (no CDN, no web font). The script only calls /api/console and shows what
// it answers: the operator console decides everything. Text from jobs (payloads, errors) is only
// ever set as textContent, so `<script>` in a payload shows as text. The charts are SVG made by
// the server from numbers.

export const CONSOLE_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>djq console</title>
<link rel="stylesheet" href="/console/console.css">
<script defer src="/console/console.js"></script>
</head>
<body>
<header>
  <h1>djq console</h1>
  <span id="who"></span>
  <a href="/admin/queues">Bull Board</a>
</header>
<main>
<section id="search-section">
  <h2>Find jobs</h2>
  <form id="search">
    <label>Job id <input name="jobId"></label>
    <label>User id <input name="userId"></label>
    <label>State <select name="state"><option value="">any</option><option>waiting</option><option>active</option><option>delayed</option><option>completed</option><option>dead-lettered</option><option>purged</option></select></label>
    <label>Operation <select name="op"><option value="">any</option><option>create-user</option><option>get-user</option><option>update-user</option><option>delete-user</option><option>query-by-department</option><option>batch-create-users</option></select></label>
    <label>Error text <input name="error"></label>
    <label>From <input name="from" placeholder="2026-01-01T00:00:00Z"></label>
    <label>To <input name="to"></label>
    <label>Generation <input name="gen" type="number" min="1"></label>
    <button type="submit">Search</button>
    <button type="button" id="user-history">What happened to this user</button>
  </form>
  <p id="search-status" role="status"></p>
  <table id="results"><thead><tr><th>Job</th><th>Operation</th><th>State</th><th>Gen</th><th>Accepted</th><th>Decided</th><th>Reason</th></tr></thead><tbody></tbody></table>
  <button type="button" id="more" hidden>More</button>
  <div id="search-actions" class="actions" hidden>
    <button type="button" id="redrive-these" data-action="redrive">Redrive these</button>
    <button type="button" id="purge-these" data-action="purge" class="danger">Purge these</button>
  </div>
</section>
<section id="timeline-section" hidden>
  <h2>Job <span id="timeline-id"></span></h2>
  <p id="timeline-summary"></p>
  <p id="timeline-trace"></p>
  <div id="job-actions" class="actions"></div>
  <h3>Attempts</h3>
  <table id="attempts"><thead><tr><th>#</th><th>Generation</th><th>Attempt</th><th>Outcome</th><th>Duration</th><th>Error</th></tr></thead><tbody></tbody></table>
  <h3>Timeline</h3>
  <ol id="timeline"></ol>
  <h3>Effect in DynamoDB</h3>
  <ul id="effect"></ul>
</section>
<section id="dlq-section">
  <h2>Dead-letter queue: redrive or purge by filter</h2>
  <form id="dlq">
    <label>Reason text <input name="reason"></label>
    <label>Error class <input name="errorClass"></label>
    <label>Operation <input name="op"></label>
    <label>User id <input name="user"></label>
    <label>Generation <input name="gen" type="number" min="1"></label>
    <label>Dead-lettered from <input name="from"></label>
    <label>to <input name="to"></label>
    <label>Jobs per second <input name="rate" type="number" min="0.1" step="0.1"></label>
    <button type="submit" data-action="redrive">Dry run: redrive</button>
    <button type="submit" data-action="purge">Dry run: purge</button>
  </form>
  <div id="plan" hidden>
    <p id="plan-count"></p>
    <ul id="plan-warnings" class="warnings"></ul>
    <ul id="plan-reasons"></ul>
    <p id="plan-sample"></p>
    <div class="actions"><button type="button" id="plan-confirm"></button></div>
  </div>
  <p id="progress" role="status"></p>
  <button type="button" id="cancel" hidden>Cancel</button>
  <h3>Actions kept</h3>
  <table id="actions"><thead><tr><th>Action</th><th>Status</th><th>Settled</th><th>By</th><th>Started</th><th></th></tr></thead><tbody></tbody></table>
</section>
<section id="charts-section">
  <h2>Per minute</h2>
  <label class="inline">Window <select id="chart-window"><option value="60">last hour</option><option value="1440">last day</option></select></label>
  <div id="charts"></div>
</section>
</main>
</body>
</html>
`;

export const CONSOLE_CSS = `
body { font-family: system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1rem; align-items: baseline; padding: .6rem 1rem; background: #1d2330; color: #fff; }
header a { color: #9cc3ff; margin-left: auto; }
h1 { font-size: 1.1rem; margin: 0; }
main { padding: 0 1rem 2rem; }
section { background: #fff; margin: 1rem 0; padding: .6rem 1rem; border-radius: 6px; box-shadow: 0 1px 2px #0002; }
form { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; }
label { display: flex; flex-direction: column; font-size: .8rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin-top: .5rem; }
th, td { text-align: left; padding: .2rem .4rem; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
td.reason, li { word-break: break-word; }
.mono, td:first-child { font-family: ui-monospace, monospace; }
.warnings li { color: #a4161a; font-weight: 600; }
.actions button, #cancel { margin-right: .5rem; }
button.danger { background: #a4161a; color: #fff; border: 0; padding: .3rem .7rem; border-radius: 4px; }
button.link { background: none; border: 0; color: #1a56c4; cursor: pointer; padding: 0; font: inherit; text-decoration: underline; }
.chart { display: block; margin: .5rem 0; max-width: 100%; height: auto; }
#charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 0 1rem; }
label.inline { flex-direction: row; gap: .4rem; align-items: baseline; }
`;

export const CONSOLE_JS = `'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  let session = { operator: '', readOnly: true };
  let lastSearch = null;
  let plan = null;

  async function api(path, options = {}) {
    const headers = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.method === 'POST' && session.csrfToken) headers['x-csrf-token'] = session.csrfToken;
    const res = await fetch('/api/console' + path, {
      method: options.method || 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || res.status + ' ' + res.statusText);
    return body;
  }

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function row(cells) {
    const tr = el('tr');
    for (const c of cells) tr.append(c instanceof Node ? wrap(c) : el('td', c));
    return tr;
  }
  function wrap(node) { const td = el('td'); td.append(node); return td; }
  function formValues(form) {
    const out = {};
    for (const [k, v] of new FormData(form).entries()) if (String(v).trim() !== '') out[k] = String(v).trim();
    return out;
  }
  function status(id, text) { $(id).textContent = text; }

  // ---- search ----
  async function search(filter, cursor) {
    const params = new URLSearchParams({ ...filter, limit: '50', ...(cursor ? { cursor } : {}) });
    status('search-status', 'Searching…');
    try {
      const page = await api('/jobs?' + params);
      const body = $('results').tBodies[0];
      if (!cursor) body.replaceChildren();
      for (const job of page.jobs) {
        const open = el('button', job.jobId, { type: 'button', class: 'link', 'data-job': job.jobId });
        open.addEventListener('click', () => showJob(job.jobId));
        body.append(row([open, job.op || '?', job.state, job.gen, job.acceptedAt || '', job.decidedAt || '', job.reason || '']));
      }
      lastSearch = { filter, cursor: page.cursor };
      $('more').hidden = !page.cursor;
      // Only a search for dead-lettered jobs maps onto the DLQ: the same filter, as a DLQ selection.
      $('search-actions').hidden = session.readOnly || filter.state !== 'dead-lettered' || body.rows.length === 0;
      status('search-status', body.rows.length + ' job(s)' + (page.cursor ? ', more to load' : ''));
    } catch (e) { status('search-status', 'Search failed: ' + e.message); }
  }
  $('search').addEventListener('submit', (event) => { event.preventDefault(); search(formValues(event.target)); });
  $('more').addEventListener('click', () => lastSearch && search(lastSearch.filter, lastSearch.cursor));
  $('user-history').addEventListener('click', async () => {
    const userId = formValues($('search')).userId;
    if (!userId) { status('search-status', 'Give a user id first.'); return; }
    try {
      const { jobs } = await api('/users/' + encodeURIComponent(userId) + '/jobs');
      const body = $('results').tBodies[0];
      body.replaceChildren();
      for (const job of jobs) {
        const open = el('button', job.jobId, { type: 'button', class: 'link', 'data-job': job.jobId });
        open.addEventListener('click', () => showJob(job.jobId));
        const reason = (job.eventVersion !== undefined ? 'event v' + job.eventVersion + ' ' : '') + (job.reason || '');
        body.append(row([open, job.op || '?', job.state, job.gen, job.acceptedAt || '', job.decidedAt || '', reason]));
      }
      $('more').hidden = true;
      $('search-actions').hidden = true;
      status('search-status', jobs.length + ' job(s) touched user ' + userId + ', oldest first');
    } catch (e) { status('search-status', 'Failed: ' + e.message); }
  });

  // ---- one job ----
  function itemText(item) {
    if (item.kind === 'mark') {
      const m = item.mark;
      const what = m.outcome === 'redriven' ? 'closed by a redrive' : m.outcome;
      return item.at + '  DynamoDB: generation ' + item.gen + ' ' + what + ' by ' + m.by + (m.reason ? ': ' + m.reason : '');
    }
    const e = item.entry;
    const who = e.workerId ? ' [' + e.workerId + ']' : '';
    switch (e.type) {
      case 'attempt-failed': return e.at + (e.stale ? '  a stale delivery of attempt ' + e.attempt + ' failed (not counted)' : '  attempt ' + e.attempt + ' failed') + who + ': ' + e.errorClass + ': ' + e.message;
      case 'completed': return e.at + '  completed on attempt ' + e.attempt + who + ' in ' + e.durationMs + ' ms: ' + e.result;
      case 'dead-lettered': return e.at + '  moved to the dead-letter queue after ' + e.attempts + ' attempt(s)' + who + ': ' + e.reason;
      case 'put-back': return e.at + '  put back for ' + e.delayMs + ' ms' + who + ': ' + e.reason;
      case 'attempt-started': return e.at + '  attempt ' + e.attempt + ' started' + who;
      default: return e.at + '  ' + e.type + who;
    }
  }
  async function showJob(jobId) {
    $('timeline-section').hidden = false;
    status('timeline-id', jobId);
    try {
      const t = await api('/jobs/' + encodeURIComponent(jobId));
      const s = t.summary || {};
      const accepted = t.record && t.record.accepted;
      status('timeline-summary', (s.op || '?') + ', ' + (s.state || 'unknown') + ', generation ' + (s.gen || 1) +
        (accepted ? '; payload ' + JSON.stringify(accepted.data) : ''));
      const trace = $('timeline-trace');
      trace.replaceChildren();
      if (t.trace && t.trace.url) {
        const a = el('a', 'Trace ' + t.trace.traceId + ' in Jaeger', { href: t.trace.url, target: '_blank', rel: 'noopener noreferrer' });
        trace.append(a);
      } else if (t.trace) trace.textContent = 'Trace ' + t.trace.traceId + ' (set JAEGER_UI_URL to link it)';
      const attempts = $('attempts').tBodies[0];
      attempts.replaceChildren(...t.attempts.map((a) => row(['#' + a.n, a.gen, a.attempt, a.outcome,
        a.durationMs === undefined ? '' : a.durationMs + ' ms', a.errorClass ? a.errorClass + ': ' + a.message : ''])));
      $('timeline').replaceChildren(
        ...(t.historyExpired ? [el('li', 'History expired (kept HISTORY_RETENTION_DAYS after its last entry); the record of its decisions is kept.')] : []),
        ...t.items.map((i) => el('li', itemText(i))));
      $('effect').replaceChildren(...t.effect.map((e) => el('li', 'user ' + e.userId + ': ' +
        (e.event ? e.event.type + ' at version ' + e.event.version + (e.event.applied ? '' : ' (not applied)') : 'no event') +
        '; projection at version ' + (e.projectionVersion === undefined ? 'none' : e.projectionVersion))));
      const actions = $('job-actions');
      actions.replaceChildren();
      if (!session.readOnly && s.state === 'dead-lettered') {
        for (const action of ['redrive', 'purge']) {
          const b = el('button', action === 'redrive' ? 'Redrive this job' : 'Purge this job', { type: 'button', 'data-action': action });
          if (action === 'purge') b.className = 'danger';
          b.addEventListener('click', () => dryRun(action, { where: { jobIds: [jobId] } }, defaultRate()));
          actions.append(b);
        }
      }
    } catch (e) { status('timeline-summary', 'Not found: ' + e.message); }
  }

  // ---- DLQ ----
  function defaultRate() { return Number($('dlq').elements.rate.value || session.defaultRate || 10); }
  for (const id of ['redrive-these', 'purge-these']) {
    $(id).addEventListener('click', (event) => {
      // The search's own filter: the board turns it into the DLQ selection (whereOfSearch).
      if (lastSearch) dryRun(event.target.dataset.action, { search: lastSearch.filter }, defaultRate());
    });
  }
  // selection: { where } (the DLQ form's fields) or { search } (a search's filter).
  async function dryRun(action, selection, rate) {
    try {
      plan = { ...(await api('/dlq/plan', { method: 'POST', body: { action, ...selection } })), selection, rate };
    } catch (e) { status('progress', 'Dry run failed: ' + e.message); return; }
    $('plan').hidden = false;
    status('plan-count', 'Dry run: ' + plan.count + ' job(s) would be ' + (action === 'redrive' ? 'redriven' : 'purged') + '.');
    $('plan-warnings').replaceChildren(...plan.warnings.map((w) => el('li', w)));
    $('plan-reasons').replaceChildren(...plan.reasons.map((r) => el('li', r.count + ' × ' + r.errorClass + (r.retryable ? '' : ' (not retryable)') + ': ' + r.example)));
    status('plan-sample', plan.sample.length ? 'e.g. ' + plan.sample.map((e) => e.jobId).join(', ') : '');
    const confirm = $('plan-confirm');
    confirm.textContent = (action === 'redrive' ? 'Redrive ' : 'Purge ') + plan.count + ' job(s)';
    confirm.className = action === 'purge' ? 'danger' : '';
    confirm.disabled = plan.count === 0;
    $('dlq-section').scrollIntoView();
  }
  $('dlq').addEventListener('submit', (event) => {
    event.preventDefault();
    const { rate, ...where } = formValues(event.target);
    dryRun(event.submitter.dataset.action, { where }, Number(rate || session.defaultRate || 10));
  });
  $('plan-confirm').addEventListener('click', async () => {
    if (!plan) return;
    const verb = plan.action === 'redrive' ? 'Redrive' : 'Purge for good';
    if (!window.confirm(verb + ' exactly ' + plan.count + ' job(s)?')) return;
    try {
      const action = await api('/dlq/run', { method: 'POST', body: { action: plan.action, ...plan.selection, confirmCount: plan.count, ratePerSecond: plan.rate } });
      $('plan').hidden = true;
      await follow(action);
    } catch (e) { status('progress', 'Refused: ' + e.message); }
  });
  async function follow(action) {
    $('cancel').hidden = false;
    $('cancel').onclick = () => api('/dlq/actions/' + action.id + '/cancel', { method: 'POST', body: {} }).catch(() => undefined);
    while (!action.finished) {
      status('progress', action.action + ': ' + action.done + ' of ' + action.total + ' done');
      await new Promise((r) => setTimeout(r, 300));
      action = await api('/dlq/actions/' + action.id);
    }
    $('cancel').hidden = true;
    const c = action.counts;
    status('progress', action.error ? 'Failed: ' + action.error :
      action.action + ' ' + action.status + ': ' + c.done + ' of ' + action.total + ' done' +
      (c.notFound ? ', ' + c.notFound + ' no longer in the DLQ' : '') +
      (c.movedOn ? ', ' + c.movedOn + ' left alone (redriven since the plan)' : '') +
      (c.busy ? ', ' + c.busy + ' busy' : '') + ', by ' + action.by);
    actions();
  }
  // Actions kept in Redis: one that stopped (cancelled, a board restart) is resumed from here.
  async function actions() {
    try {
      const list = (await api('/dlq/actions')).actions;
      $('actions').tBodies[0].replaceChildren(...list.map((a) => {
        const cells = [a.action, a.status, a.done + '/' + a.total, a.by, a.createdAt];
        const resumable = !session.readOnly && a.status !== 'running' && a.done < a.total;
        const b = el('button', 'Resume', { type: 'button', 'data-resume': a.id });
        b.hidden = !resumable;
        b.addEventListener('click', async () => {
          try { await follow(await api('/dlq/actions/' + a.id + '/resume', { method: 'POST', body: {} })); }
          catch (e) { status('progress', 'Refused: ' + e.message); }
        });
        return row([...cells, b]);
      }));
    } catch (e) { status('progress', 'Actions unavailable: ' + e.message); }
  }

  // ---- charts ----
  async function charts() {
    try {
      const { svg } = await api('/charts?minutes=' + encodeURIComponent($('chart-window').value));
      // Server-made SVG of numbers only (console-svg.ts escapes its text too).
      $('charts').innerHTML = svg;
    } catch (e) { status('charts', 'Charts unavailable: ' + e.message); }
  }
  $('chart-window').addEventListener('change', () => { charts(); });

  async function start() {
    session = await api('/session');
    status('who', 'operator: ' + session.operator + (session.readOnly ? ' (read-only)' : ''));
    if (session.readOnly) $('dlq-section').hidden = true;
    else {
      $('dlq').elements.rate.value = String(session.defaultRate);
      actions();
    }
    const params = new URLSearchParams(location.search);
    if (params.get('job')) showJob(params.get('job'));
    await Promise.all([search({}), charts()]);
    document.body.dataset.ready = 'true';
  }
  start().catch((e) => status('search-status', 'Console failed to start: ' + e.message));
})();
`;
