// "Confirm it's you": sensitive changes carry a verification record (`logto-verification-id`), made by re-entering
// the password or a code sent to the primary email or phone. One record serves every change for its ten minutes.

import { call, currentVerification, forgetVerification, rememberVerification } from './api.js';
import { field, h, modal } from './ui.js';

let account = null;

/** The page tells us who is signed in, so the dialog can offer the right methods. */
export function setAccount(current) {
  account = current;
}

/** Runs `action(recordId)` with a fresh verification record, asking the person for one when needed. */
export async function withVerification(action) {
  for (let attempt = 0; ; attempt += 1) {
    const record = currentVerification() ?? (await askForVerification());
    try {
      return await action(record);
    } catch (error) {
      // A record the server no longer accepts (expired, or older than a password change): ask once more.
      if (error.code !== 'verification_record.permission_denied' || attempt > 0) throw error;
      forgetVerification();
    }
  }
}

async function askForVerification() {
  const codeTargets = [];
  if (account?.primaryEmail) codeTargets.push({ type: 'email', value: account.primaryEmail });
  if (account?.primaryPhone) codeTargets.push({ type: 'phone', value: account.primaryPhone });
  if (account?.hasPassword === false && codeTargets.length > 0) return askForCode(codeTargets[0]);
  const answer = await askForPassword(codeTargets);
  return answer.switchTo ? askForCode(answer.switchTo) : answer.recordId;
}

function askForPassword(codeTargets) {
  let password;
  return modal({
    title: 'Confirm it’s you',
    description: 'Enter your password to continue.',
    submitLabel: 'Confirm',
    build: (_form, finish) => {
      const { wrapper, input } = field('Current password', { type: 'password', autocomplete: 'current-password', required: true });
      password = input;
      const alternatives = codeTargets.map((target) => h('button', {
        type: 'button',
        class: 'link',
        text: `Send a code to ${target.value} instead`,
        onClick: () => finish({ switchTo: target }),
      }));
      return [wrapper, ...alternatives];
    },
    submit: async () => {
      const answer = await call('POST', '/api/verifications/password', { body: { password: password.value } });
      rememberVerification(answer.verificationRecordId, answer.expiresAt);
      return { recordId: answer.verificationRecordId };
    },
  });
}

async function askForCode(target) {
  const sent = await call('POST', '/api/verifications/verification-code', { body: { identifier: target } });
  let code;
  return modal({
    title: 'Confirm it’s you',
    description: `We sent a 6-digit code to ${target.value}. Enter it to continue.`,
    submitLabel: 'Confirm',
    build: () => {
      const { wrapper, input } = field('Verification code', { inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: 6 });
      code = input;
      return wrapper;
    },
    submit: async () => {
      const answer = await call('POST', '/api/verifications/verification-code/verify', {
        body: { identifier: target, verificationId: sent.verificationRecordId, code: code.value.trim() },
      });
      rememberVerification(answer.verificationRecordId, sent.expiresAt);
      return answer.verificationRecordId;
    },
  });
}
