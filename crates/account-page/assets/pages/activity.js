// The person's own audit log (`GET /api/my-account/logs`), newest first, a page at a time. Guarded like the
// sessions: it shows where and with what the account was used, so it needs "Confirm it's you".

import { call, currentVerification } from '../api.js';
import { withVerification } from '../verify.js';
import { actionButton, formatDate, h, section } from '../ui.js';

export const title = 'Activity';
export const fields = ['session'];

const PAGE_SIZE = 20;

/** Audit keys in words; an unknown key shows as it is. */
const EVENTS = {
  'User.Created': 'Account created',
  'User.Data.Updated': 'Account details changed',
  'User.Password.Updated': 'Password changed',
  'User.Mfa.Updated': 'Two-step verification changed',
  'User.Identities.Updated': 'Linked accounts changed',
  'User.SignedIn': 'Signed in',
  'User.Sessions.Revoked': 'Signed out a session',
  'User.SuspensionStatus.Updated': 'Suspension changed',
  'User.Roles.Updated': 'Roles changed',
  'User.Restored': 'Account restored',
  'User.Impersonation.Started': 'An administrator acted as you',
  'User.PersonalAccessTokens.Updated': 'Access tokens changed',
};

export function render() {
  const body = h('div');
  const show = async (page) => {
    const { body: entries, headers } = await withVerification((record) => call('GET', `/api/my-account/logs?page=${page}&page_size=${PAGE_SIZE}`, { raw: true, verification: record }));
    const total = Number(headers.get('Total-Number') ?? entries.length);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    body.replaceChildren(
      entries.length === 0 ? h('p', { class: 'muted', text: 'Nothing yet.' }) : h('table', {},
        h('caption', { class: 'visually-hidden', text: 'Account activity, newest first' }),
        h('thead', {}, h('tr', {}, ['What', 'When', 'From'].map((text) => h('th', { scope: 'col', text })))),
        h('tbody', {}, entries.map((entry) => h('tr', {},
          h('td', { text: EVENTS[entry.key] ?? entry.key }),
          h('td', { text: formatDate(entry.createdAt) }),
          h('td', { text: entry.payload?.ip ?? '—' }))))),
      h('nav', { class: 'pager', 'aria-label': 'Activity pages' },
        actionButton('Newer', () => show(page - 1), { disabled: page <= 1 }),
        h('span', { text: `Page ${page} of ${pages}` }),
        actionButton('Older', () => show(page + 1), { disabled: page >= pages })));
  };
  body.replaceChildren(
    h('p', { class: 'muted', text: 'Confirm it’s you to see this.' }),
    h('div', { class: 'actions' }, actionButton('Show', () => show(1))));
  if (currentVerification()) show(1).catch(() => {});
  return section('Recent activity', {}, body);
}
