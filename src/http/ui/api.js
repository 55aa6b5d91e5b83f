// api.js - talking to keeptrack's JSON API from the browser.
//
// Every call is a same-origin fetch with the session cookie. The server's
// cross-site check on state-changing routes accepts these requests because
// the browser itself sends Origin / Sec-Fetch-Site: same-origin with them;
// there is no token to add. Errors come back as
// {"error":{"status","code","message"}} and are thrown as ApiError.

import {clear, errorBox, progressBar} from './dom.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// cache: a fetch() cache mode; 'no-cache' revalidates a response the
// browser keeps (GET /api/artists/ allows 30 s), which a page needs after a
// job changed the data behind it.
export async function api(path, {method = 'GET', body, form, headers, signal, cache} = {}) {
  const opts = {method, credentials: 'same-origin', signal, headers: {Accept: 'application/json', ...headers}};
  if (cache) opts.cache = cache;
  if (form !== undefined) {
    opts.body = form; // FormData: the browser writes the multipart boundary
  } else if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!r.ok) {
    const e = data && data.error && typeof data.error === 'object' ? data.error : {};
    throw new ApiError(r.status, e.code || `http_${r.status}`, e.message || `The server answered ${r.status}`);
  }
  return data;
}

// Is this route on the server? (404 not_found from the router means no.)
export function isMissingRoute(err) {
  return err instanceof ApiError && err.status === 404 && (err.code === 'not_found' || err.code === 'http_404');
}

const TERMINAL = new Set(['done', 'failed']);
const POLL_MS = 400;

// Follows GET /api/jobs/{id} until the job is done or failed, calling
// onUpdate(job) with every state seen. Resolves with the final job.
// Polling (not server-sent events) because every instance behind a proxy
// can answer it and it needs nothing from the server but the job row.
export async function pollJob(id, onUpdate, {signal} = {}) {
  for (;;) {
    const job = await api(`/api/jobs/${encodeURIComponent(id)}`, {signal});
    onUpdate(job);
    if (TERMINAL.has(job.state)) return job;
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, job.state === 'deferred' ? 2000 : POLL_MS);
      if (signal) signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, {once: true});
    });
  }
}

// Every page of a paged list endpoint (items + total), up to maxItems.
export async function fetchAll(path, {limit = 500, maxItems = 20000, signal} = {}) {
  const items = [];
  const sep = path.includes('?') ? '&' : '?';
  for (let offset = 0; ; offset += limit) {
    const page = await api(`${path}${sep}limit=${limit}&offset=${offset}`, {signal});
    items.push(...page.items);
    if (page.items.length < limit || items.length >= page.total || items.length >= maxItems) {
      return {items, total: page.total};
    }
  }
}

// Starts a job (start() resolves with the job's JSON, as POST /api/sync and
// friends answer 202) and shows its live progress bar in slot until it
// ends. Resolves with the final job, or null when it could not start (the
// error is shown in slot).
export async function runJob(slot, label, start, signal) {
  const bar = progressBar(label);
  clear(slot, bar.el);
  try {
    const job = await start();
    bar.update(job);
    return await pollJob(job.id, (j) => bar.update(j), {signal});
  } catch (err) {
    if (err.name !== 'AbortError') slot.append(errorBox(err));
    return null;
  }
}
