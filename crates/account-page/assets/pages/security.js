// Two-step verification: an authenticator app (TOTP), passkeys, and backup codes.

import { call } from '../api.js';
import qrcode from '../vendor/qrcode.mjs';
import { actionButton, announce, confirmAction, download, field, formatDate, h, modal, section } from '../ui.js';
import { withVerification } from '../verify.js';

export const title = 'Two-step verification';
export const fields = ['mfa', 'passkey'];

export async function render({ account, mode, refresh }) {
  const factors = await call('GET', '/api/my-account/mfa-verifications');
  const parts = [];
  const mfaMode = mode('mfa');
  if (mfaMode !== 'Off') parts.push(authenticatorSection(account, factors, mfaMode, refresh));
  if (mode('passkey') !== 'Off') parts.push(passkeySection(factors, mode('passkey'), refresh));
  if (mfaMode !== 'Off') parts.push(backupCodeSection(factors, mfaMode, refresh));
  return parts;
}

function authenticatorSection(account, factors, fieldMode, refresh) {
  const totp = factors.find((factor) => factor.type === 'Totp');
  const editable = fieldMode === 'Edit';
  const body = totp
    ? [h('p', { class: 'value', text: `An authenticator app is set up (since ${formatDate(totp.createdAt)}).` }),
      h('div', { class: 'actions' }, actionButton('Remove authenticator app', async () => {
        await confirmAction('Remove the authenticator app?', 'You will no longer be asked for its codes when you sign in.', 'Remove');
        await withVerification((record) => call('DELETE', `/api/my-account/mfa-verifications/${encodeURIComponent(totp.id)}`, { verification: record }));
        announce('The authenticator app was removed.');
        await refresh();
      }, { disabled: !editable }))]
    : [h('p', { class: 'muted', text: 'Not set up. An authenticator app gives you a new code every 30 seconds.' }),
      h('div', { class: 'actions' }, actionButton('Set up authenticator app', () => enrolTotp(account, refresh), { disabled: !editable, class: 'primary' }))];
  return section('Authenticator app', { mode: fieldMode }, body);
}

/** The otpauth URI authenticator apps read from the QR code (Key Uri Format). */
function otpauthUri(secret, account) {
  const issuer = location.hostname;
  const label = account.primaryEmail || account.username || account.primaryPhone || account.id;
  return `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(label)}?secret=${secret}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=6&period=30`;
}

async function enrolTotp(account, refresh) {
  await withVerification(async (record) => {
    const { secret } = await call('POST', '/api/my-account/mfa-verifications/totp-secret/generate');
    const qr = qrcode(0, 'M');
    qr.addData(otpauthUri(secret, account));
    qr.make();
    let code;
    await modal({
      title: 'Set up your authenticator app',
      submitLabel: 'Verify and turn on',
      build: () => {
        const built = field('Code from the app', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, required: true });
        code = built.input;
        return [
          h('ol', { class: 'steps' },
            h('li', { text: 'Scan this QR code with your authenticator app, or type the setup key into it.' }),
            h('li', { text: 'Enter the 6-digit code the app shows.' })),
          h('img', { class: 'qr', src: qr.createDataURL(5, 2), alt: 'QR code holding your authenticator setup key' }),
          h('p', {}, 'Setup key: ', h('code', { id: 'totp-secret', class: 'secret', text: secret })),
          built.wrapper,
        ];
      },
      submit: () => call('POST', '/api/my-account/mfa-verifications', {
        body: { type: 'Totp', secret, code: code.value.trim() },
        verification: record,
      }),
    });
  });
  announce('Your authenticator app is set up. You will be asked for a code when you sign in.');
  await refresh();
}

function backupCodeSection(factors, fieldMode, refresh) {
  const existing = factors.find((factor) => factor.type === 'BackupCode');
  const editable = fieldMode === 'Edit';
  const hasOtherFactor = factors.some((factor) => factor.type !== 'BackupCode');
  const summary = existing
    ? h('p', { class: 'value', text: `${existing.remainCodes} of 10 backup codes left.` })
    : h('p', { class: 'muted', text: hasOtherFactor
      ? 'Backup codes let you sign in if you lose your authenticator app or passkey.'
      : 'Set up an authenticator app or a passkey first; backup codes only back them up.' });
  return section('Backup codes', { mode: fieldMode }, summary, h('div', { class: 'actions' },
    existing ? actionButton('Show backup codes', async () => {
      const { codes } = await withVerification((record) => call('GET', '/api/my-account/mfa-verifications/backup-codes', { verification: record }));
      await showCodes(codes.map((item) => (item.usedAt ? `${item.code} (used)` : item.code)), 'Your backup codes', 'Close');
    }) : null,
    actionButton(existing ? 'Replace backup codes' : 'Generate backup codes', () => generateBackupCodes(existing, refresh), {
      disabled: !editable || !hasOtherFactor,
      class: existing ? undefined : 'primary',
    })));
}

async function generateBackupCodes(existing, refresh) {
  await withVerification(async (record) => {
    const { codes } = await call('POST', '/api/my-account/mfa-verifications/backup-codes/generate');
    await showCodes(codes, 'Save your backup codes', 'I saved them, turn them on', async () => {
      // One live set per account: the old set goes only once the new one is about to be saved.
      if (existing) await call('DELETE', `/api/my-account/mfa-verifications/${encodeURIComponent(existing.id)}`, { verification: record });
      await call('POST', '/api/my-account/mfa-verifications', { body: { type: 'BackupCode', codes }, verification: record });
    });
  });
  announce('Your new backup codes are on. Each works once.');
  await refresh();
}

function showCodes(codes, titleText, submitLabel, save = async () => {}) {
  const text = `Backup codes for ${location.host}\nEach code works once.\n\n${codes.join('\n')}\n`;
  return modal({
    title: titleText,
    description: 'Keep these somewhere safe. Each code works once, in place of a code from your app.',
    submitLabel,
    build: () => [
      h('ul', { class: 'codes', 'aria-label': 'Backup codes' }, codes.map((code) => h('li', {}, h('code', { text: code })))),
      h('div', { class: 'actions' },
        h('button', { type: 'button', text: 'Download as text', onClick: () => download('backup-codes.txt', text) }),
        h('button', { type: 'button', text: 'Copy', onClick: () => navigator.clipboard?.writeText(text).then(() => announce('Copied.')) })),
    ],
    submit: save,
  });
}

function passkeySection(factors, fieldMode, refresh) {
  const passkeys = factors.filter((factor) => factor.type === 'WebAuthn');
  const editable = fieldMode === 'Edit';
  const list = passkeys.length === 0
    ? h('p', { class: 'muted', text: 'No passkeys yet. A passkey signs you in with your fingerprint, face or device PIN.' })
    : h('ul', { class: 'items', 'aria-label': 'Your passkeys' }, passkeys.map((passkey) => h('li', {},
      h('div', {},
        h('strong', { text: passkey.name || 'Passkey' }),
        h('p', { class: 'muted', text: `Added ${formatDate(passkey.createdAt)}${passkey.lastUsedAt ? ` · last used ${formatDate(passkey.lastUsedAt)}` : ''}` })),
      h('div', { class: 'actions' },
        actionButton('Rename', () => renamePasskey(passkey, refresh), { disabled: !editable, 'aria-label': `Rename ${passkey.name || 'passkey'}` }),
        actionButton('Remove', async () => {
          await confirmAction(`Remove ${passkey.name || 'this passkey'}?`, 'You will no longer be able to use it.', 'Remove');
          await withVerification((record) => call('DELETE', `/api/my-account/mfa-verifications/${encodeURIComponent(passkey.id)}`, { verification: record }));
          announce('The passkey was removed.');
          await refresh();
        }, { disabled: !editable, 'aria-label': `Remove ${passkey.name || 'passkey'}` })))));
  const supported = Boolean(window.PublicKeyCredential);
  return section('Passkeys', { mode: fieldMode }, list,
    supported ? null : h('p', { class: 'muted', text: 'This browser cannot create passkeys.' }),
    h('div', { class: 'actions' }, actionButton('Add a passkey', () => addPasskey(refresh), { disabled: !editable || !supported, class: 'primary' })));
}

async function renamePasskey(passkey, refresh) {
  await withVerification(async (record) => {
    let name;
    await modal({
      title: 'Rename passkey',
      submitLabel: 'Save',
      build: () => {
        const built = field('Name', { value: passkey.name ?? '', required: true, maxlength: 64 });
        name = built.input;
        return built.wrapper;
      },
      submit: () => call('PATCH', `/api/my-account/mfa-verifications/${encodeURIComponent(passkey.id)}/name`, {
        body: { name: name.value.trim() },
        verification: record,
      }),
    });
  });
  announce('The passkey was renamed.');
  await refresh();
}

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (character) => character.charCodeAt(0));
}

function toBase64Url(buffer) {
  let binary = '';
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The server's options are JSON with base64url binaries; the browser wants ArrayBuffers. */
function creationOptions(json) {
  return {
    ...json,
    challenge: fromBase64Url(json.challenge),
    user: { ...json.user, id: fromBase64Url(json.user.id) },
    excludeCredentials: (json.excludeCredentials ?? []).map((credential) => ({ ...credential, id: fromBase64Url(credential.id) })),
  };
}

/** The browser's answer as `RegistrationResponseJSON`. */
function registrationJson(credential) {
  if (typeof credential.toJSON === 'function') return credential.toJSON();
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64Url(credential.response.clientDataJSON),
      attestationObject: toBase64Url(credential.response.attestationObject),
      transports: credential.response.getTransports?.() ?? [],
    },
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

async function addPasskey(refresh) {
  let name;
  const passkeyName = await modal({
    title: 'Add a passkey',
    description: 'Your browser will ask you to confirm with your fingerprint, face, device PIN or security key.',
    submitLabel: 'Continue',
    build: () => {
      const built = field('Name for this passkey', { value: guessDeviceName(), required: true, maxlength: 64 }, { hint: 'So you can tell your passkeys apart.' });
      name = built.input;
      return built.wrapper;
    },
    submit: async () => name.value.trim(),
  });
  await withVerification(async (record) => {
    const started = await call('POST', '/api/verifications/web-authn/registration');
    const credential = await navigator.credentials.create({ publicKey: creationOptions(started.registrationOptions) });
    const verified = await call('POST', '/api/verifications/web-authn/registration/verify', {
      body: { verificationRecordId: started.verificationRecordId, payload: registrationJson(credential) },
    });
    await call('POST', '/api/my-account/mfa-verifications', {
      body: { type: 'WebAuthn', newIdentifierVerificationRecordId: verified.verificationRecordId, name: passkeyName },
      verification: record,
    });
  });
  announce('Your passkey was added.');
  await refresh();
}

function guessDeviceName() {
  const agent = navigator.userAgent;
  if (/iPhone|iPad/.test(agent)) return 'iPhone or iPad';
  if (/Android/.test(agent)) return 'Android device';
  if (/Mac OS X/.test(agent)) return 'Mac';
  if (/Windows/.test(agent)) return 'Windows PC';
  if (/Linux/.test(agent)) return 'Linux computer';
  return 'Passkey';
}
