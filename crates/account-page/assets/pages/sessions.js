// Where the person is signed in, and which applications hold access; both revocable. Listing them needs
// "Confirm it's you" too (as in Logto): a session list tells an intruder where its owner is.

import { call, currentVerification } from '../api.js';
import { actionButton, announce, confirmAction, formatDate, h, section } from '../ui.js';
import { withVerification } from '../verify.js';

export const title = 'Sessions and apps';
export const fields = ['session'];

export function render({ mode }) {
  const fieldMode = mode('session');
  const sessionsBody = h('div', { class: 'loadable' });
  const grantsBody = h('div', { class: 'loadable' });
  const load = async () => {
    const [{ sessions }, { grants }] = await withVerification((record) => Promise.all([
      call('GET', '/api/my-account/sessions', { verification: record }),
      call('GET', '/api/my-account/grants', { verification: record }),
    ]));
    sessionsBody.replaceChildren(sessionList(sessions, fieldMode, load));
    grantsBody.replaceChildren(grantList(grants, fieldMode, load));
  };
  const gate = (body) => body.replaceChildren(
    h('p', { class: 'muted', text: 'Confirm it’s you to see this.' }),
    h('div', { class: 'actions' }, actionButton('Show', load)));
  gate(sessionsBody);
  gate(grantsBody);
  // With a verification record still fresh, there is nothing to confirm: show the lists straight away.
  if (currentVerification()) load().catch(() => {});
  return [
    section('Where you’re signed in', { mode: fieldMode }, sessionsBody),
    section('Connected apps', { mode: fieldMode, description: 'Applications you have signed in to.' }, grantsBody),
  ];
}

function describeAgent(userAgent) {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Chrom/.test(userAgent) ? 'Chrome' : /Firefox/.test(userAgent) ? 'Firefox'
    : /Safari/.test(userAgent) ? 'Safari' : userAgent.split(/[\s/]/)[0];
  const system = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Mac OS X/.test(userAgent) ? 'macOS'
    : /Windows/.test(userAgent) ? 'Windows' : /Linux/.test(userAgent) ? 'Linux' : null;
  return system ? `${browser} on ${system}` : browser;
}

function sessionList(sessions, fieldMode, reload) {
  if (sessions.length === 0) return h('p', { class: 'muted', text: 'No sessions.' });
  const ordered = [...sessions].sort((a, b) => Number(Boolean(b.isCurrent)) - Number(Boolean(a.isCurrent)) || b.lastActiveAt - a.lastActiveAt);
  return h('ul', { class: 'items', 'aria-label': 'Sessions' }, ordered.map((item) => {
    const label = describeAgent(item.userAgent);
    return h('li', { 'data-session-id': item.id },
      h('div', {},
        h('strong', { text: label }),
        item.isCurrent ? h('span', { class: 'badge', text: 'This device' }) : null,
        h('p', { class: 'muted', text: `${item.ip ?? 'Unknown address'} · signed in ${formatDate(item.createdAt)} · last active ${formatDate(item.lastActiveAt)}` })),
      item.isCurrent ? null : h('div', { class: 'actions' }, actionButton('Sign out', async () => {
        await confirmAction(`Sign out ${label}?`, 'That device will have to sign in again.', 'Sign out');
        await withVerification((record) => call('DELETE', `/api/my-account/sessions/${encodeURIComponent(item.id)}`, { verification: record }));
        announce(`${label} was signed out.`);
        await reload();
      }, { disabled: fieldMode !== 'Edit', 'aria-label': `Sign out ${label}, signed in ${formatDate(item.createdAt)}` })));
  }));
}

function grantList(grants, fieldMode, reload) {
  if (grants.length === 0) return h('p', { class: 'muted', text: 'No connected apps.' });
  return h('ul', { class: 'items', 'aria-label': 'Connected apps' }, grants.map((grant) => {
    const name = grant.application?.name ?? grant.application?.id ?? grant.id;
    return h('li', {},
      h('div', {},
        h('strong', { text: name }),
        h('p', { class: 'muted', text: `${grant.sessionIds?.length ?? 0} session(s) · until ${formatDate(grant.expiresAt)}` })),
      h('div', { class: 'actions' }, actionButton('Revoke', async () => {
        await confirmAction(`Revoke ${name}?`, 'It will be signed out everywhere and must ask you to sign in again.', 'Revoke');
        await withVerification((record) => call('DELETE', `/api/my-account/grants/${encodeURIComponent(grant.id)}`, { verification: record }));
        announce(`${name} no longer has access.`);
        await reload();
      }, { disabled: fieldMode !== 'Edit', 'aria-label': `Revoke ${name}` })));
  }));
}
