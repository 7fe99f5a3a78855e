// Linked social accounts: list, link through the provider's sign-in page, unlink.

import { call, clientConfig, session } from '../api.js';
import { describeError } from '../messages.js';
import { actionButton, announce, confirmAction, h, section } from '../ui.js';
import { setAccount, withVerification } from '../verify.js';

export const title = 'Linked accounts';
export const fields = ['social'];

const PENDING_KEY = 'latchkey.account.social-link';

function redirectUri() {
  return `${location.origin}/account/`;
}

export function render({ account, mode, refresh }) {
  const fieldMode = mode('social');
  const editable = fieldMode === 'Edit';
  const identities = Object.entries(account.identities ?? {});
  const linkedTargets = new Set(identities.map(([target]) => target));
  const list = identities.length === 0
    ? h('p', { class: 'muted', text: 'No accounts linked.' })
    : h('ul', { class: 'items', 'aria-label': 'Linked accounts' }, identities.map(([target, identity]) => h('li', {},
      h('div', {},
        h('strong', { text: target }),
        h('p', { class: 'muted', text: identity.details?.email ?? identity.details?.name ?? identity.userId })),
      h('div', { class: 'actions' }, actionButton('Unlink', async () => {
        await confirmAction(`Unlink ${target}?`, `You will no longer be able to sign in with ${target}.`, 'Unlink');
        await withVerification((record) => call('DELETE', `/api/my-account/identities/${encodeURIComponent(target)}`, { verification: record }));
        announce(`${target} was unlinked.`);
        await refresh();
      }, { disabled: !editable, 'aria-label': `Unlink ${target}` })))));
  const connectors = clientConfig().socialConnectors.filter((connector) => !linkedTargets.has(connector.target));
  return section('Linked accounts', { mode: fieldMode, description: 'Accounts at other services you can sign in with.' },
    list,
    connectors.length > 0
      ? h('div', { class: 'actions' }, connectors.map((connector) => actionButton(`Link ${connector.target}`, () => startLinking(connector), { disabled: !editable })))
      : null);
}

/** Sends the person to the provider; `finishLinkingIfReturning` picks up when the provider sends them back. */
async function startLinking(connector) {
  const state = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const started = await call('POST', '/api/verifications/social', {
    body: { connectorId: connector.id, state, redirectUri: redirectUri() },
  });
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ recordId: started.verificationRecordId, state, target: connector.target }));
  location.assign(started.authorizationUri);
}

function toHex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** On the way back from a provider (`?code=…&state=…`): verify the answer and link the identity. */
export async function finishLinkingIfReturning() {
  const query = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null');
  if (!query.has('state') || !pending) return;
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', `${location.pathname}#/connections`);
  if (!session() || query.get('state') !== pending.state) return;
  try {
    setAccount(await call('GET', '/api/my-account'));
    const connectorData = Object.fromEntries(query.entries());
    await call('POST', '/api/verifications/social/verify', {
      body: { verificationRecordId: pending.recordId, connectorData: { ...connectorData, redirectUri: redirectUri() } },
    });
    await withVerification((record) => call('POST', '/api/my-account/identities', {
      body: { newIdentifierVerificationRecordId: pending.recordId },
      verification: record,
    }));
    announce(`${pending.target} is now linked.`);
  } catch (error) {
    announce(`Could not link ${pending.target}: ${describeError(error)}`);
  }
}
