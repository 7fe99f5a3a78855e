// Sign-in: a password or an email/phone code, then the second factor when the account has one.

import { finishMfa, sendSignInCode, signInWithCode, signInWithPassword } from '../api.js';
import { describeError } from '../messages.js';
import { busy, field, h } from '../ui.js';

/** Logto's identifier types, guessed from what was typed: `@` means email, digits (with `+`, spaces, dashes) a
 *  phone number, anything else a username. */
export function identifierOf(text) {
  const value = text.trim();
  if (value.includes('@')) return { type: 'email', value };
  if (/^\+?[\d\s()-]{6,}$/.test(value)) return { type: 'phone', value: value.replace(/\D/g, '') };
  return { type: 'username', value };
}

export function render({ onSignedIn }) {
  const card = h('div', { class: 'card' });
  const heading = h('h1', { id: 'page-title', tabindex: '-1', text: 'Sign in to your account' });
  const body = h('div');
  card.append(heading, body);

  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const fail = (cause) => {
    if (cause.code === 'session.mfa.require_mfa_verification') {
      showMfa(cause.data);
      return;
    }
    error.textContent = describeError(cause);
    error.hidden = false;
  };

  function showFirstStep(method = 'password') {
    const identifier = field(method === 'password' ? 'Username, email or phone' : 'Email or phone',
      { name: 'identifier', autocomplete: 'username', required: true });
    const password = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
    const code = field('Verification code', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6 });
    let verificationId = null;
    const submit = h('button', { type: 'submit', class: 'primary', text: method === 'password' ? 'Sign in' : 'Send code' });
    const formElement = h('form', { 'aria-label': 'Sign in', novalidate: true },
      identifier.wrapper,
      method === 'password' ? password.wrapper : null,
      error,
      h('div', { class: 'actions' }, submit),
      h('p', {}, h('button', {
        type: 'button',
        class: 'link',
        text: method === 'password' ? 'Sign in with a code instead' : 'Sign in with your password instead',
        onClick: () => { error.hidden = true; showFirstStep(method === 'password' ? 'code' : 'password'); },
      })));
    formElement.addEventListener('submit', (event) => {
      event.preventDefault();
      error.hidden = true;
      const who = identifierOf(identifier.input.value);
      busy(submit, async () => {
        if (method === 'password') {
          await signInWithPassword(who, password.input.value);
        } else if (!verificationId) {
          if (who.type === 'username') throw new Error('Enter an email address or a phone number to get a code.');
          verificationId = await sendSignInCode(who);
          identifier.input.readOnly = true;
          error.before(code.wrapper);
          submit.textContent = 'Sign in';
          code.input.focus();
          return false;
        } else {
          await signInWithCode(who, verificationId, code.input.value.trim());
        }
        return true;
      }).then((done) => {
        if (done) onSignedIn();
        else submit.textContent = 'Sign in';
      }, fail);
    });
    heading.textContent = 'Sign in to your account';
    body.replaceChildren(formElement);
    identifier.input.focus();
  }

  function showMfa({ mfaToken, availableFactors = [] }) {
    const totp = availableFactors.includes('Totp');
    let type = totp ? 'Totp' : 'BackupCode';
    const label = () => (type === 'Totp' ? 'Code from your authenticator app' : 'Backup code');
    const code = field(label(), { name: 'mfa-code', autocomplete: 'one-time-code', inputmode: type === 'Totp' ? 'numeric' : 'text', required: true });
    const submit = h('button', { type: 'submit', class: 'primary', text: 'Verify' });
    const switcher = availableFactors.includes('BackupCode') && totp
      ? h('button', {
        type: 'button',
        class: 'link',
        text: 'Use a backup code instead',
        onClick: (event) => {
          type = type === 'Totp' ? 'BackupCode' : 'Totp';
          code.wrapper.querySelector('label').textContent = label();
          code.input.inputMode = type === 'Totp' ? 'numeric' : 'text';
          event.target.textContent = type === 'Totp' ? 'Use a backup code instead' : 'Use your authenticator app instead';
          code.input.value = '';
          code.input.focus();
        },
      })
      : null;
    const formElement = h('form', { 'aria-label': 'Two-step verification', novalidate: true },
      h('p', { text: 'Your account is protected with two-step verification.' }),
      code.wrapper, error, h('div', { class: 'actions' }, submit), switcher ? h('p', {}, switcher) : null);
    if (!totp && !availableFactors.includes('BackupCode')) {
      formElement.prepend(h('p', { role: 'alert', text: 'This account needs a second factor this page cannot offer yet.' }));
    }
    formElement.addEventListener('submit', (event) => {
      event.preventDefault();
      error.hidden = true;
      busy(submit, () => finishMfa(mfaToken, type, code.input.value.trim())).then(onSignedIn, (cause) => {
        error.textContent = describeError(cause);
        error.hidden = false;
        if (cause.code === 'session.mfa.pending_info_not_found') showFirstStep();
      });
    });
    heading.textContent = 'Two-step verification';
    body.replaceChildren(formElement);
    code.input.focus();
  }

  showFirstStep();
  return card;
}
