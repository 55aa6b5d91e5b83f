// harness.mjs - starts what a browser test needs: spotify-emulator, a
// `keeptrack serve` wired to it (SQLite in a temporary folder), and Debian's
// Chromium through playwright-core (never a downloaded browser).
//
// The same start-up contract as tests/pylib (emulator.py, keeptrack.py):
// each program announces its address on its first stdout line, and we then
// poll its health endpoint with a deadline. Binaries come from EMULATOR_BIN
// and KEEPTRACK_BIN; playwright-core from the node_modules folder named by
// KT_NODE_MODULES (npm ci puts it in the build directory, not the source
// tree). Standard library + playwright-core only.

import {spawn} from 'node:child_process';
import {createRequire} from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const CLIENT_ID = 'keeptrack-test-client';
export const ADMIN_TOKEN = 'browser-test-admin-token-0123456789abcdef';

// Polls fn() until it returns a truthy value; throws after timeoutMs.
export async function waitFor(fn, what, timeoutMs = 20000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Spawns cmd and resolves with the first stdout line (rejects on exit or
// after timeoutMs). stderr goes to logPath.
function spawnAnnounced(cmd, args, env, logPath, timeoutMs = 20000) {
  const log = fs.openSync(logPath, 'a');
  const proc = spawn(cmd, args, {env, stdio: ['ignore', 'pipe', log]});
  fs.closeSync(log);
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`${cmd} did not start in time`)); }, timeoutMs);
    const onData = (chunk) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        proc.stdout.resume(); // keep draining later output
        resolve({proc, line: buf.slice(0, nl).trim()});
      }
    };
    proc.stdout.on('data', onData);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd} exited with ${code} before starting; see ${logPath}`)); });
  });
}

// SIGTERM and wait; resolves with the exit code (SIGKILL after 15 s).
function stopProc(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc ? proc.exitCode : null);
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 15000);
    proc.once('exit', (code) => { clearTimeout(kill); resolve(code); });
    proc.kill('SIGTERM');
  });
}

export async function startEmulator(args, workdir) {
  const bin = process.env.EMULATOR_BIN;
  if (!bin) throw new Error('EMULATOR_BIN is not set');
  const {proc, line} = await spawnAnnounced(bin, ['--listen', '127.0.0.1:0', ...args], process.env,
    path.join(workdir, 'emulator.log'));
  const m = /^spotify-emulator listening on (http:\/\/\S+)$/.exec(line);
  if (!m) throw new Error(`unexpected first line from the emulator: ${line}`);
  const baseUrl = m[1];
  const control = async (method, p, body) => {
    const r = await fetch(`${baseUrl}/__emulator/${p}`, {method, headers: body ? {'Content-Type': 'application/json'} : {},
      body: body ? JSON.stringify(body) : undefined});
    const text = await r.text();
    if (r.status >= 400) throw new Error(`emulator ${method} ${p} -> ${r.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };
  await waitFor(async () => (await control('GET', 'health')).ok, 'emulator health');
  return {
    baseUrl, apiUrl: `${baseUrl}/v1`, proc, control,
    truth: (user) => control('GET', `users/${user}/truth`),
    mutate: (user, body) => control('POST', `users/${user}/mutate`, body),
    stop: () => stopProc(proc),
  };
}

export async function startKeeptrack(emu, workdir, extraEnv = {}) {
  const bin = process.env.KEEPTRACK_BIN;
  if (!bin) throw new Error('KEEPTRACK_BIN is not set');
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('KEEPTRACK_') && !k.startsWith('SPOTIFY_')) env[k] = v;
  }
  Object.assign(env, {
    SPOTIFY_CLIENT_ID: CLIENT_ID,
    SPOTIFY_ACCOUNTS_URL: emu.baseUrl,
    SPOTIFY_API_URL: emu.apiUrl,
    SPOTIFY_REDIRECT_URI: `${baseUrl}/api/auth/callback`,
    KEEPTRACK_LISTEN: `127.0.0.1:${port}`,
    KEEPTRACK_PUBLIC_URL: baseUrl,
    KEEPTRACK_DB: path.join(workdir, 'keeptrack.db'),
    KEEPTRACK_DATA_DIR: path.join(workdir, 'data'),
    KEEPTRACK_SECRET_KEY_FILE: path.join(workdir, 'secret.key'),
    KEEPTRACK_SCHEDULER: 'off',
    KEEPTRACK_JOB_POLL_MS: '50',
    KEEPTRACK_WORKERS: '2',
    KEEPTRACK_ADMIN_TOKEN: ADMIN_TOKEN,
    ...extraEnv,
  });
  const {proc, line} = await spawnAnnounced(bin, ['serve'], env, path.join(workdir, 'keeptrack.log'));
  if (!/^keeptrack listening on http:\/\//.test(line)) throw new Error(`keeptrack did not start: ${line}`);
  await waitFor(async () => (await fetch(`${baseUrl}/healthz`)).status === 200, 'keeptrack /healthz');
  return {baseUrl, proc, stop: () => stopProc(proc), logPath: path.join(workdir, 'keeptrack.log')};
}

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Debian's Chromium with a fresh profile (launchPersistentContext gives it
// --user-data-dir). colorScheme and viewport per context.
export async function launchBrowser(workdir, {colorScheme = 'light', viewport = {width: 1280, height: 900}, isMobile = false} = {}) {
  const modules = process.env.KT_NODE_MODULES;
  if (!modules) throw new Error('KT_NODE_MODULES is not set (the folder npm ci installed playwright-core into)');
  const require = createRequire(path.join(modules, 'noop.js'));
  const {chromium} = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(workdir, 'chromium-profile-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true, args: CHROMIUM_FLAGS, colorScheme, viewport, isMobile, hasTouch: isMobile,
    acceptDownloads: true, timeout: 30000,
  });
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Goes to a hash route of the single-page app and waits until its page
// module finished rendering (app.js sets data-ready).
export async function gotoPage(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForSelector(`.page[data-ready="true"][data-page="${hash.split('/')[1]}"]`);
}

// The states a job's progress bar (under selector) went through, until it
// is done or failed.
export async function followProgress(page, selector) {
  const seen = new Set();
  await waitFor(async () => {
    const st = await page.getAttribute(`${selector} .progress`, 'data-state').catch(() => null);
    if (st) seen.add(st);
    return st === 'done' || st === 'failed';
  }, `${selector} to finish`, 60000, 20);
  return seen;
}

// What a browser test file needs, started in workdir: the emulator with
// one user (userSpec, as --user takes it, e.g. 'alice:liked=60'),
// keeptrack wired to it, and a browser with its first page:
// {emu, kt, ctx, page}. Stop them with stopStack (in `after`).
export async function startStack(workdir, userSpec, browserOptions = {}) {
  const emu = await startEmulator(['--redirect-uri', 'any-loopback', '--user', userSpec], workdir);
  const kt = await startKeeptrack(emu, workdir);
  const ctx = await launchBrowser(workdir, browserOptions);
  const page = ctx.pages()[0] || await ctx.newPage();
  return {emu, kt, ctx, page};
}

// Closes the browser and stops keeptrack and the emulator (each part may
// be missing when start-up failed half-way); throws unless both exited 0.
export async function stopStack({emu, kt, ctx} = {}) {
  if (ctx) await ctx.close();
  const ktCode = kt ? await kt.stop() : 0;
  const emuCode = emu ? await emu.stop() : 0;
  if (ktCode !== 0) throw new Error(`keeptrack exited with ${ktCode}; see ${kt.logPath}`);
  if (emuCode !== 0) throw new Error(`the emulator exited with ${emuCode}`);
}

// GET url as JSON with the browser page's cookies (not its HTTP cache);
// throws unless the answer is 200.
export async function getJson(page, url) {
  const r = await page.request.get(url, {headers: {Accept: 'application/json'}});
  if (r.status() !== 200) throw new Error(`GET ${url} -> ${r.status()}: ${await r.text()}`);
  return r.json();
}

// Logs page in through the emulator's consent (the first visit's "Connect
// Spotify") and runs a full sync from the dashboard, waiting for its end.
export async function connectAndSync(page, kt) {
  await page.goto(kt.baseUrl + '/');
  await Promise.all([page.waitForURL(`${kt.baseUrl}/`), page.click('#connect-button')]);
  await page.waitForSelector('.page[data-page="dashboard"][data-ready="true"]');
  await page.click('#sync-now');
  return followProgress(page, '#sync-progress');
}

// What is wrong with the layout of page p's main area at its viewport: a
// page wider than the viewport, or a cell, control or label hidden or off
// screen (controls inside [hidden] are skipped). [] when nothing is.
export function layoutProblems(p) {
  return p.evaluate(() => {
    const out = [], vw = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > vw) out.push(`scrolls sideways (${document.documentElement.scrollWidth} > ${vw})`);
    for (const el of document.querySelectorAll('main td, main button, main input, main select, main label')) {
      if (el.closest('[hidden]')) continue;
      const r = el.getBoundingClientRect();
      if (el.getClientRects().length === 0 && el.textContent.trim()) out.push(`"${el.textContent}" is hidden`);
      else if (r.right > vw + 0.5) out.push(`"${el.textContent || el.id}" is off screen (${Math.round(r.right)} > ${vw})`);
    }
    return out;
  });
}

// The two sizes every page is checked at: [label, viewport, isMobile].
export const SIZES = [['desktop', {width: 1280, height: 800}, false], ['phone', {width: 390, height: 844}, true]];

// Runs fn(page, label) in a fresh browser of each of SIZES, logged in with
// ctx's cookies; each browser is closed after its run, pass or fail.
export async function atEachSize(workdir, ctx, fn) {
  for (const [label, viewport, isMobile] of SIZES) {
    const c = await launchBrowser(workdir, {viewport, isMobile});
    try {
      await c.addCookies(await ctx.cookies());
      await fn(c.pages()[0] || await c.newPage(), label);
    } finally {
      await c.close();
    }
  }
}
