// How the person signs in: username, primary email and phone (changed with a code sent to the new address), and
// the password. Every change here needs "Confirm it's you".

import { call, forgetVerification } from '../api.js';
import { actionButton, announce, confirmAction, field, form, h, modal, section } from '../ui.js';
import { withVerification } from '../verify.js';

export const title = 'Sign-in details';
export const fields = ['username', 'email', 'phone', 'password'];

export function render({ account, mode, refresh }) {
  const parts = [];
  if (mode('username') !== 'Off') parts.push(usernameSection(account, mode('username'), refresh));
  if (mode('email') !== 'Off') parts.push(identifierSection('email', account, mode('email'), refresh));
  if (mode('phone') !== 'Off') parts.push(identifierSection('phone', account, mode('phone'), refresh));
  if (mode('password') !== 'Off') parts.push(passwordSection(account, mode('password'), refresh));
  return parts;
}

function usernameSection(account, fieldMode, refresh) {
  const username = field('Username', { value: account.username ?? '', autocomplete: 'username', maxlength: 128 }, {
    mode: fieldMode,
    hint: 'Letters, digits and underscores; not starting with a digit.',
  });
  return section('Username', { mode: fieldMode }, form({
    label: 'Username',
    submitLabel: 'Save username',
    mode: fieldMode,
    children: [username.wrapper],
    onSubmit: async () => {
      const value = username.input.value.trim() || null;
      await withVerification((record) => call('PATCH', '/api/my-account', { body: { username: value }, verification: record }));
      announce('Your username was changed.');
      await refresh();
    },
  }));
}

const IDENTIFIERS = {
  email: {
    heading: 'Email address',
    label: 'New email address',
    key: 'primaryEmail',
    route: '/api/my-account/primary-email',
    input: { type: 'email', autocomplete: 'email' },
    normalise: (value) => value.trim(),
  },
  phone: {
    heading: 'Phone number',
    label: 'New phone number, with country code',
    key: 'primaryPhone',
    route: '/api/my-account/primary-phone',
    input: { type: 'tel', autocomplete: 'tel', placeholder: '+1 555 0100' },
    // The API takes digits only, country code first.
    normalise: (value) => value.replace(/\D/g, ''),
  },
};

function identifierSection(type, account, fieldMode, refresh) {
  const spec = IDENTIFIERS[type];
  const current = account[spec.key];
  const editable = fieldMode === 'Edit';
  return section(spec.heading, { mode: fieldMode },
    h('p', { class: 'value' }, current ? h('strong', { text: current }) : h('span', { class: 'muted', text: 'None yet' })),
    h('div', { class: 'actions' },
      actionButton(current ? `Change ${type}` : `Add ${type}`, () => changeIdentifier(type, spec, refresh), { disabled: !editable }),
      current ? actionButton(`Remove ${type}`, async () => {
        await confirmAction(`Remove ${current}?`, `You will no longer be able to sign in with this ${type === 'email' ? 'email address' : 'phone number'}.`, 'Remove');
        await withVerification((record) => call('DELETE', spec.route, { verification: record }));
        announce(`Your ${type === 'email' ? 'email address' : 'phone number'} was removed.`);
        await refresh();
      }, { disabled: !editable }) : null));
}

/** New identifier: proof of "it's me" first, then a code to the new address proves it is theirs. */
async function changeIdentifier(type, spec, refresh) {
  await withVerification(async (record) => {
    let value;
    let sent;
    let input;
    await modal({
      title: spec.heading,
      description: 'We will send a 6-digit code to the new address to make sure it is yours.',
      submitLabel: 'Send code',
      build: () => {
        const built = field(spec.label, { ...spec.input, required: true });
        input = built.input;
        return built.wrapper;
      },
      submit: async () => {
        value = spec.normalise(input.value);
        sent = await call('POST', '/api/verifications/verification-code', { body: { identifier: { type, value } } });
      },
    });
    let code;
    await modal({
      title: 'Enter the code',
      description: `We sent a code to ${input.value.trim()}.`,
      submitLabel: 'Verify',
      build: () => {
        const built = field('Verification code', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, required: true });
        code = built.input;
        return built.wrapper;
      },
      submit: async () => {
        const verified = await call('POST', '/api/verifications/verification-code/verify', {
          body: { identifier: { type, value }, verificationId: sent.verificationRecordId, code: code.value.trim() },
        });
        await call('POST', spec.route, {
          body: { [type]: value, newIdentifierVerificationRecordId: verified.verificationRecordId },
          verification: record,
        });
      },
    });
  });
  announce(type === 'email' ? 'Your email address was changed.' : 'Your phone number was changed.');
  await refresh();
}

function passwordSection(account, fieldMode, refresh) {
  const password = field('New password', { type: 'password', autocomplete: 'new-password', required: true }, { mode: fieldMode });
  const repeat = field('Repeat the new password', { type: 'password', autocomplete: 'new-password', required: true }, { mode: fieldMode });
  return section('Password', {
    mode: fieldMode,
    description: account.hasPassword === false ? 'You have no password yet; you can set one.' : undefined,
  }, form({
    label: 'Password',
    submitLabel: account.hasPassword === false ? 'Set password' : 'Change password',
    mode: fieldMode,
    children: [password.wrapper, repeat.wrapper],
    onSubmit: async () => {
      if (password.input.value !== repeat.input.value) {
        repeat.input.setAttribute('aria-invalid', 'true');
        throw new Error('The two passwords are not the same.');
      }
      repeat.input.removeAttribute('aria-invalid');
      const body = { password: password.input.value };
      // A first password needs no proof (there is nothing to re-enter); a change does.
      if (account.hasPassword === false) await call('POST', '/api/my-account/password', { body });
      else await withVerification((record) => call('POST', '/api/my-account/password', { body, verification: record }));
      // The server no longer accepts a proof made before the password changed.
      forgetVerification();
      password.input.value = '';
      repeat.input.value = '';
      announce('Your password was changed.');
      await refresh();
    },
  }));
}
