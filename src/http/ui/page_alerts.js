// page_alerts.js - alerts (issue 18, item 5): the Alerts page (#/alerts)
// lists the open alerts (a login to renew, a failed backup, a sync held
// back by Spotify's quota, a playlist that lost tracks) with a Dismiss
// button and what to do next, and the Notifications card sets which
// channels the server sends them to (webhook, e-mail and the address).
// The navigation's Alerts link carries the count (alertsBadge).

import {api} from './api.js';
import {h, clear, errorBox, fmtDateTime, announce} from './dom.js';

// What to do about an alert of each kind: a link, or nothing.
function nextStep(a) {
  if (a.kind === 'login_expiring' || a.kind === 'login_revoked')
    return h('a', {class: 'button primary', href: '/api/auth/login'}, 'Reconnect Spotify');
  if (a.kind === 'playlist_lost_tracks' && a.details && a.details.playlist)
    return h('a', {class: 'button', href: `#/playlist/${encodeURIComponent(a.details.playlist)}`}, 'See its versions');
  if (a.kind === 'backup_failed')
    return h('a', {class: 'button', href: '#/backups'}, 'Backups');
  return null;
}

// Sets the count on the navigation's Alerts link (hidden at 0).
export async function alertsBadge(signal) {
  const badge = document.getElementById('alerts-count');
  if (!badge) return;
  try {
    const n = (await api('/api/alerts', {signal})).alerts.length;
    badge.textContent = String(n);
    badge.hidden = n === 0;
    badge.setAttribute('aria-label', `${n} open alert${n === 1 ? '' : 's'}`);
  } catch { /* the badge is a hint; the page shows errors */ }
}

function alertItem(a, onDismiss) {
  const dismiss = h('button', {type: 'button', class: 'dismiss'}, 'Dismiss');
  dismiss.addEventListener('click', () => onDismiss(a, dismiss));
  return h('li', {class: 'alert-item', dataset: {id: a.id, kind: a.kind}},
    h('div', {class: 'alert-head'},
      h('strong', {class: 'alert-title'}, a.title),
      a.scope === 'instance' ? h('span', {class: 'tag'}, 'for everyone on this server') : null),
    h('p', {class: 'alert-message'}, a.message),
    a.kind === 'playlist_lost_tracks' && a.details && a.details.tracks
      ? h('ul', {class: 'plain alert-tracks'}, a.details.tracks.map((u) => h('li', null, h('code', null, u)))) : null,
    h('p', {class: 'muted'}, `Since ${fmtDateTime(new Date(a.created_at).toISOString())}`),
    h('div', {class: 'row'}, nextStep(a), dismiss));
}

async function listCard(ctx) {
  const slot = h('div', {id: 'alerts-list'});
  const status = h('div', {'aria-live': 'polite'});
  const show = (alerts) => clear(slot, alerts.length === 0
    ? h('p', {class: 'muted', id: 'alerts-none'}, 'Nothing needs your attention.')
    : h('ul', {class: 'plain alert-list'}, alerts.map((a) => alertItem(a, dismiss))));
  const reload = async () => {
    show((await api('/api/alerts', {signal: ctx.signal})).alerts);
    await alertsBadge(ctx.signal);
  };
  const dismiss = async (a, button) => {
    button.disabled = true;
    try {
      await api(`/api/alerts/${encodeURIComponent(a.id)}/dismiss`, {method: 'POST'});
      announce('Alert dismissed');
      await reload();
    } catch (err) {
      button.disabled = false;
      clear(status, errorBox(err));
    }
  };
  show((await api('/api/alerts', {signal: ctx.signal})).alerts);
  return h('section', {class: 'card wide', 'aria-labelledby': 'alerts-h', id: 'alerts-card'},
    h('h2', {id: 'alerts-h'}, 'Open alerts'), status, slot);
}

async function settingsCard(ctx) {
  const s = await api('/api/alerts/settings', {signal: ctx.signal});
  const hook = s.channels.webhook, mail = s.channels.email;
  const webhook = h('input', {type: 'checkbox', id: 'alerts-webhook', checked: s.webhook && hook.configured, disabled: !hook.configured});
  const email = h('input', {type: 'checkbox', id: 'alerts-email', checked: s.email && mail.configured, disabled: !mail.configured});
  const to = h('input', {type: 'email', id: 'alerts-email-to', value: s.email_to || '', maxlength: 254,
    placeholder: mail.default_to || 'you@example.org', disabled: !mail.configured});
  const save = h('button', {type: 'button', class: 'primary', id: 'alerts-save'}, 'Save');
  const result = h('div', {id: 'alerts-save-result', 'aria-live': 'polite'});
  save.addEventListener('click', async () => {
    try {
      await api('/api/alerts/settings', {method: 'PUT',
        body: {webhook: webhook.checked, email: email.checked, email_to: to.value.trim() || null}});
      clear(result, h('p', null, 'Saved.'));
      announce('Notification settings saved');
    } catch (err) { clear(result, errorBox(err)); }
  });
  return h('section', {class: 'card wide', 'aria-labelledby': 'alerts-settings-h', id: 'alerts-settings'},
    h('h2', {id: 'alerts-settings-h'}, 'Notifications'),
    h('p', {class: 'muted'}, 'New alerts are also sent where the server is set up to send them.'),
    h('div', {class: 'row'},
      h('label', null, webhook, hook.configured ? ` Webhook (${hook.host})` : ' Webhook (not set up on this server)')),
    h('div', {class: 'row'},
      h('label', null, email, mail.configured ? ' E-mail' : ' E-mail (not set up on this server)'),
      h('label', {class: 'field'}, 'Address', to)),
    h('div', {class: 'row'}, save), result);
}

export async function alertsPage(ctx) {
  ctx.root.append(h('h1', null, 'Alerts'));
  const grid = h('div', {class: 'grid'});
  ctx.root.append(grid);
  const [list, settings] = await Promise.all([listCard(ctx), settingsCard(ctx)]);
  grid.append(list, settings);
}
