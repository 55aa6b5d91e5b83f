// app.js - the web UI's entry point: asks /api/session who is logged in
// (never a 401, so a logged-out visit logs no console error), shows
// "Connect Spotify" or the navigation, warns when Spotify access must be
// renewed, and routes #/<page>[/<arg>...] to the page modules. A page is
// a function (ctx) -> Promise that fills ctx.root; ctx.signal aborts its
// fetches and job polling when the user navigates away.

import {api, ApiError} from './api.js';
import {h, clear, errorBox, labelCells, reloadHome} from './dom.js';
import {dashboardPage} from './page_dashboard.js';
import {listeningPage, itemPage} from './page_listening.js';
import {recapPage} from './page_recap.js';
import {libraryPage, playlistPage} from './page_library.js';
import {shufflePage} from './page_shuffle.js';
import {trendingPage} from './page_trending.js';
import {fromtopsPage} from './page_fromtops.js';
import {releasesPage, backupsPage, settingsPage, adminPage} from './page_more.js';
import {sharedPage} from './page_shares.js';
import {alertsPage, alertsBadge} from './page_alerts.js';

const PAGES = {
  dashboard: {title: 'Dashboard', render: dashboardPage},
  listening: {title: 'Listening', render: listeningPage},
  item: {title: 'Listening', render: itemPage, nav: 'listening'},
  recap: {title: 'Recap', render: recapPage},
  library: {title: 'Library', render: libraryPage},
  playlist: {title: 'Playlist', render: playlistPage, nav: 'library'},
  shuffle: {title: 'Shuffle', render: shufflePage},
  trending: {title: 'Trending', render: trendingPage},
  tops: {title: 'Top playlists', render: fromtopsPage},
  releases: {title: 'New releases', render: releasesPage},
  backups: {title: 'Export & backups', render: backupsPage},
  alerts: {title: 'Alerts', render: alertsPage},
  settings: {title: 'Settings', render: settingsPage},
  admin: {title: 'Admin', render: adminPage},
};
// Spotify refresh tokens end six months after consent; warn this early.
const WARN_DAYS = 14;

const state = {me: null, controller: null};

function banner(me) {
  const area = document.getElementById('banner');
  clear(area);
  const relogin = h('a', {class: 'button primary', href: '/api/auth/login'}, 'Reconnect Spotify');
  if (me.status === 'reauth_required') {
    area.append(h('div', {class: 'banner error', role: 'alert', dataset: {banner: 'reauth'}},
      h('span', null, 'Spotify no longer accepts keeptrack\'s access to your account, so nothing is being synced. Log in again to continue.'), relogin));
  } else if (me.status !== 'active') {
    area.append(h('div', {class: 'banner warn', role: 'alert', dataset: {banner: 'status'}},
      h('span', null, `Your account is ${me.status}.`)));
  } else if (me.refresh_token_days_left !== null && me.refresh_token_days_left <= WARN_DAYS) {
    area.append(h('div', {class: 'banner warn', role: 'status', dataset: {banner: 'expiry'}},
      h('span', null, `Spotify's six-month authorization ends in ${me.refresh_token_days_left} day${me.refresh_token_days_left === 1 ? '' : 's'}. Reconnect to keep syncing.`), relogin));
  }
}

function who(me) {
  const logout = h('button', {type: 'button', id: 'logout'}, 'Log out');
  logout.addEventListener('click', async () => {
    try { await api('/api/auth/logout', {method: 'POST'}); } catch { /* the cookie is gone either way */ }
    reloadHome();
  });
  clear(document.getElementById('who'), h('span', {id: 'who-name'}, me.display_name || me.spotify_id), logout);
}

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const name = PAGES[parts[0]] ? parts[0] : 'dashboard';
  return {name, args: PAGES[parts[0]] ? parts.slice(1) : []};
}

async function render() {
  if (!state.me) return;
  const {name, args} = parseRoute();
  const page = PAGES[name];
  if (state.controller) state.controller.abort();
  state.controller = new AbortController();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route === (page.nav || name)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${page.title} - keeptrack`;
  const main = document.getElementById('main');
  const root = h('div', {class: 'page', dataset: {page: name}});
  clear(main, root);
  const ctx = {root, args, me: state.me, signal: state.controller.signal, refreshMe};
  try {
    await page.render(ctx);
    root.dataset.ready = 'true';
  } catch (err) {
    if (err && err.name === 'AbortError') return;
    if (err instanceof ApiError && err.status === 401) { location.reload(); return; }
    root.append(errorBox(err));
    root.dataset.ready = 'error';
  }
}

function showMe(me) {
  state.me = me;
  banner(me);
  who(me);
  return me;
}

async function refreshMe() {
  return showMe(await api('/api/me'));
}

async function start() {
  document.getElementById('skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    document.getElementById('main').focus();
  });
  const loading = document.getElementById('loading');
  // A share link's page is public: no login, no navigation, no /api/me.
  const shared = location.hash.match(/^#\/shared\/([A-Za-z0-9_-]+)$/);
  if (shared) {
    loading.remove();
    document.getElementById('connect').remove();
    document.body.dataset.state = 'shared';
    const root = h('div', {class: 'page', dataset: {page: 'shared'}});
    clear(document.getElementById('main'), root);
    await sharedPage(root, shared[1]);
    return;
  }
  let session;
  try {
    session = await api('/api/session');
  } catch (err) {
    loading.remove();
    document.getElementById('main').append(errorBox(err));
    return;
  }
  if (session.user === null) {
    loading.remove();
    document.getElementById('connect').hidden = false;
    document.body.dataset.state = 'logged-out';
    return;
  }
  showMe(session.user);
  loading.remove();
  document.getElementById('connect').remove();
  document.getElementById('nav').hidden = false;
  document.body.dataset.state = 'logged-in';
  // Pages build and rebuild tables at any time (search, paging, a job's
  // end); labelling every table as it arrives keeps the phone layout right
  // without each page having to remember it.
  new MutationObserver((records) => {
    for (const rec of records) for (const n of rec.addedNodes) if (n.nodeType === 1) labelCells(n);
  }).observe(document.getElementById('main'), {childList: true, subtree: true});
  window.addEventListener('hashchange', () => {
    render();
    alertsBadge();
    document.getElementById('main').focus();
  });
  render();
  alertsBadge();
}

start();
