// The account page: a small single-page app over the public Account API. `#/<page>` picks the page; each page
// module exports `title`, `fields` (the account-center fields it shows) and `render(context)`.

import { accountCenter, call, loadConfig, onSignedOut, session, signOut } from './api.js';
import { describeError } from './messages.js';
import { append, h } from './ui.js';
import { setAccount } from './verify.js';
import * as signIn from './pages/sign-in.js';
import * as profile from './pages/profile.js';
import * as login from './pages/login.js';
import * as security from './pages/security.js';
import * as connections from './pages/connections.js';
import * as sessions from './pages/sessions.js';
import * as activity from './pages/activity.js';
import * as data from './pages/data.js';

const PAGES = { profile, login, security, connections, sessions, activity, data };
const root = document.getElementById('app');

/** The account-center mode of a field: `Off` when absent; `passkey` falls back to `mfa` (as in Logto). */
function modeOf(settings, name) {
  const fields = settings?.fields ?? {};
  if (name === 'passkey') return fields.passkey ?? fields.mfa ?? 'Off';
  return fields[name] ?? 'Off';
}

function visible(page, mode) {
  return page.fields.length === 0 || page.fields.some((name) => mode(name) !== 'Off');
}

async function render() {
  const pageName = location.hash.replace(/^#\/?/, '') || 'profile';
  if (!session()) {
    showSignIn();
    return;
  }
  root.setAttribute('aria-busy', 'true');
  let account;
  let settings;
  try {
    [settings, account] = await Promise.all([accountCenter(), call('GET', '/api/my-account')]);
  } catch (error) {
    if (!session()) return;
    showProblem(error);
    return;
  } finally {
    root.removeAttribute('aria-busy');
  }
  setAccount(account);
  const mode = (name) => modeOf(settings, name);
  const available = Object.entries(PAGES).filter(([, page]) => visible(page, mode));
  const [currentName, current] = available.find(([name]) => name === pageName) ?? available[0];
  const context = { account, settings, mode, refresh: render };
  const content = h('div', { class: 'page' }, h('h1', { id: 'page-title', tabindex: '-1', text: current.title }));
  root.replaceChildren(shell(account, available, currentName, content));
  document.title = `${current.title} · Your account`;
  try {
    append(content, [await current.render(context)]);
  } catch (error) {
    content.append(h('p', { class: 'form-error', role: 'alert', text: describeError(error) }));
  }
  if (render.focusTitle) document.getElementById('page-title')?.focus();
  render.focusTitle = false;
}

function shell(account, pages, currentName, content) {
  const who = account.name || account.username || account.primaryEmail || account.primaryPhone || account.id;
  const menu = h('ul', {}, pages.map(([name, page]) => h('li', {},
    h('a', { href: `#/${name}`, 'aria-current': name === currentName ? 'page' : undefined, text: page.title }))));
  return h('div', { class: 'shell' },
    h('header', { class: 'top' },
      // A button, not a `#fragment` link: the fragment is the page's route.
      h('button', { type: 'button', class: 'skip', text: 'Skip to content', onClick: () => document.getElementById('page-title')?.focus() }),
      h('p', { class: 'brand', text: 'Your account' }),
      h('p', { class: 'who', text: `Signed in as ${who}` }),
      h('button', { type: 'button', onClick: () => signOut(), text: 'Sign out' })),
    h('nav', { 'aria-label': 'Account sections' }, menu),
    h('main', { id: 'content' }, content));
}

function showSignIn() {
  document.title = 'Sign in · Your account';
  root.replaceChildren(h('main', { id: 'content', class: 'sign-in' }, signIn.render({ onSignedIn: () => { render.focusTitle = true; render(); } })));
  root.querySelector('input')?.focus();
}

function showProblem(error) {
  root.replaceChildren(h('main', { id: 'content', class: 'sign-in' },
    h('div', { class: 'card' },
      h('h1', { text: 'Your account' }),
      h('p', { role: 'alert', text: describeError(error) }),
      h('div', { class: 'actions' },
        h('button', { type: 'button', onClick: () => render(), text: 'Try again' }),
        h('button', { type: 'button', onClick: () => signOut(), text: 'Sign out' })))));
}

async function start() {
  try {
    await loadConfig();
  } catch (error) {
    showProblem(error);
    return;
  }
  onSignedOut(() => showSignIn());
  window.addEventListener('hashchange', () => { render.focusTitle = true; render(); });
  await connections.finishLinkingIfReturning();
  render();
}

start();
