// The /account page in Debian's headless Chromium, against the real server (scripts/node-e2e.sh tests/account-page
// starts it with a bootstrap M2M app; LATCHKEY_E2E_HOST=localhost so that passkeys have a relying-party domain).
// The administrator's side (creating the user, the account-center and sign-in-experience settings) and the checks
// of what the page did go through the Management and sign-in APIs; everything the person does goes through the page.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const axeSource = await readFile(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

const required = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run scripts/node-e2e.sh tests/account-page)`);
  return value;
};

const baseUrl = required('LATCHKEY_E2E_BASE_URL');
const apiUrl = process.env.LATCHKEY_E2E_API_URL ?? baseUrl;
const clientId = required('LATCHKEY_E2E_CLIENT_ID');
const clientSecret = required('LATCHKEY_E2E_CLIENT_SECRET');
const screenshots = new URL('./screenshots/', import.meta.url);

const ALL_FIELDS_EDIT = {
  name: 'Edit', avatar: 'Edit', profile: 'Edit', username: 'Edit', email: 'Edit', phone: 'Edit', password: 'Edit',
  social: 'Edit', customData: 'Edit', mfa: 'Edit', session: 'Edit',
};
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

// ---- The administrator and the checks, over HTTP ----

async function managementToken() {
  const response = await fetch(`${apiUrl}/oidc/token`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${baseUrl}/api`, scope: 'all' }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).access_token;
}

async function admin(method, path, body) {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${await managementToken()}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The sign-in API as another device would use it: returns the HTTP status and body. */
async function apiSignIn(username, password) {
  const response = await fetch(`${apiUrl}/api/sign-in`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': 'second-device/1.0' },
    body: JSON.stringify({ clientId: 'account-page', identifier: { type: 'username', value: username }, password }),
  });
  return { status: response.status, body: await response.json() };
}

async function refreshWorks(refreshToken) {
  const response = await fetch(`${apiUrl}/oidc/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'account-page' }),
  });
  return response.status === 200;
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s), computed here from the secret the page shows. */
function totp(base32Secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const character of base32Secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(character).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const digest = createHmac('sha1', key).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// ---- The browser ----

let browser;
before(async () => {
  await mkdir(screenshots, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.LATCHKEY_E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});
after(async () => {
  await browser?.close();
});

/** A fresh browser context whose page fails the test on any script error or Content-Security-Policy violation. */
async function openPage(viewport = VIEWPORTS.desktop) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/the server responded with a status of 4\d\d/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  return { context, page, problems };
}

/** Screenshots at desktop and phone width, each after an axe-core accessibility audit (WCAG 2.1 A and AA rules,
 *  contrast included) that fails the test on any serious or critical finding. axe runs through the DevTools
 *  protocol, which the page's Content-Security-Policy does not govern; the page itself still loads no inline script. */
async function shot(page, name) {
  for (const [label, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    const findings = await page.evaluate(`${axeSource}
      axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
        .then((result) => result.violations
          .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
          .map((violation) => violation.id + ': ' + violation.nodes.map((node) => node.target.join(' ')).join(', ')))`);
    assert.deepEqual(findings, [], `accessibility findings on ${name} (${label})`);
    await page.screenshot({ path: new URL(`${name}-${label}.png`, screenshots).pathname, fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

async function signInOnPage(page, username, password) {
  await page.goto(`${baseUrl}/account/`);
  await page.getByLabel('Username, email or phone').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function announced(page, text) {
  await page.locator('#status', { hasText: text }).waitFor({ state: 'visible' });
}

/** Answers "Confirm it's you" with the password when the page asks. */
async function confirmWithPassword(page, password) {
  const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' });
  await dialog.getByLabel('Current password').fill(password);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.waitFor({ state: 'detached' });
}

async function goTo(page, hash, heading) {
  await page.goto(`${baseUrl}/account/#/${hash}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

async function createPerson() {
  const username = `ada_${randomBytes(4).toString('hex')}`;
  const password = `Correct-Horse-${randomBytes(4).toString('hex')}`;
  const user = await admin('POST', '/api/users', { username, password, name: 'Ada Lovelace' });
  return { id: user.id, username, password };
}

before(async () => {
  await admin('PATCH', '/api/account-center', { enabled: true, fields: ALL_FIELDS_EDIT });
  await admin('PATCH', '/api/sign-in-exp', { mfa: { factors: ['Totp', 'WebAuthn', 'BackupCode'], policy: 'UserControlled' } });
});

test('a wrong password is explained in words, and nothing else happens', async () => {
  const { context, page, problems } = await openPage();
  const person = await createPerson();
  await page.goto(`${baseUrl}/account/`);
  await shot(page, '01-sign-in');
  await signInOnPage(page, person.username, 'not-the-password');
  await page.getByRole('alert').filter({ hasText: 'That sign-in name and password do not match.' }).waitFor();
  assert.equal(await page.getByRole('heading', { level: 1, name: 'Sign in to your account' }).count(), 1);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a person manages their whole account in the browser', async () => {
  const { context, page, problems } = await openPage();
  const person = await createPerson();

  // Sign in.
  await signInOnPage(page, person.username, person.password);
  await page.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();
  assert.match(await page.locator('.who').textContent(), /Ada Lovelace/);

  // Change the name.
  await page.getByLabel('Name', { exact: true }).fill('Ada King');
  await page.getByRole('form', { name: 'Name and picture' }).getByRole('button', { name: 'Save' }).click();
  await announced(page, 'Your profile was saved.');
  assert.equal((await admin('GET', `/api/users/${person.id}`)).name, 'Ada King');
  await page.locator('.who', { hasText: 'Ada King' }).waitFor();
  await shot(page, '02-profile');

  // Change the password (the page asks for the current one first).
  const newPassword = `${person.password}-new`;
  await goTo(page, 'login', 'Sign-in details');
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(newPassword);
  await page.getByRole('button', { name: 'Change password' }).click();
  await confirmWithPassword(page, person.password);
  await announced(page, 'Your password was changed.');
  assert.equal((await apiSignIn(person.username, person.password)).status, 422, 'the old password still works');
  await shot(page, '03-sign-in-details');

  // A second device signs in (before TOTP exists, so it needs no second factor); revoked from the page later.
  const secondDevice = await apiSignIn(person.username, newPassword);
  assert.equal(secondDevice.status, 200, JSON.stringify(secondDevice.body));

  // Enrol TOTP: read the setup key from the page and type the code an authenticator would show.
  await goTo(page, 'security', 'Two-step verification');
  await page.getByRole('button', { name: 'Set up authenticator app' }).click();
  await confirmWithPassword(page, newPassword);
  const enrolment = page.getByRole('dialog', { name: 'Set up your authenticator app' });
  const secret = (await enrolment.locator('#totp-secret').textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  assert.equal(await enrolment.getByRole('img', { name: /QR code/ }).count(), 1);
  await shot(page, '04-totp-enrolment');
  await enrolment.getByLabel('Code from the app').fill(totp(secret));
  await enrolment.getByRole('button', { name: 'Verify and turn on' }).click();
  await announced(page, 'Your authenticator app is set up.');
  await page.getByText('An authenticator app is set up').waitFor();

  // Generate backup codes, download them as text, turn them on.
  await page.getByRole('button', { name: 'Generate backup codes' }).click();
  const codesDialog = page.getByRole('dialog', { name: 'Save your backup codes' });
  const codeItems = codesDialog.getByRole('list', { name: 'Backup codes' }).locator('li');
  // The dialog opens only once the generate call has answered; allTextContents() does not wait for it.
  await codeItems.nth(9).waitFor();
  const codes = (await codeItems.allTextContents()).map((code) => code.trim());
  assert.equal(codes.length, 10);
  const [download] = await Promise.all([page.waitForEvent('download'), codesDialog.getByRole('button', { name: 'Download as text' }).click()]);
  const downloaded = await readFile(await download.path(), 'utf8');
  for (const code of codes) assert.ok(downloaded.includes(code), `the download lacks ${code}`);
  await codesDialog.getByRole('button', { name: 'I saved them, turn them on' }).click();
  await announced(page, 'Your new backup codes are on.');
  await page.getByText('10 of 10 backup codes left.').waitFor();

  // Register a passkey with Chromium's virtual authenticator, then rename it.
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  const naming = page.getByRole('dialog', { name: 'Add a passkey' });
  await naming.getByLabel('Name for this passkey').fill('Test laptop');
  await naming.getByRole('button', { name: 'Continue' }).click();
  await announced(page, 'Your passkey was added.');
  await page.getByRole('list', { name: 'Your passkeys' }).getByText('Test laptop').waitFor();
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, 'the passkey is not discoverable');
  assert.equal(credentials[0].rpId, new URL(baseUrl).hostname);
  await page.getByRole('button', { name: 'Rename Test laptop' }).click();
  const renaming = page.getByRole('dialog', { name: 'Rename passkey' });
  await renaming.getByLabel('Name').fill('Work laptop');
  await renaming.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('list', { name: 'Your passkeys' }).getByText('Work laptop').waitFor();
  const factors = await admin('GET', `/api/users/${person.id}/mfa-verifications`);
  assert.deepEqual(factors.map((factor) => factor.type).sort(), ['BackupCode', 'Totp', 'WebAuthn']);
  assert.equal(factors.find((factor) => factor.type === 'WebAuthn').name, 'Work laptop');
  await shot(page, '05-two-step-verification');

  // Sign out, and sign in again with the TOTP (the next step's code: the enrolment code cannot be replayed).
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in to your account' }).waitFor();
  await signInOnPage(page, person.username, newPassword);
  await page.getByRole('heading', { level: 1, name: 'Two-step verification' }).waitFor();
  await shot(page, '06-sign-in-second-step');
  await page.getByLabel('Code from your authenticator app').fill(totp(secret, Date.now() + 30_000));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();

  // Revoke the second device's session from the sessions page.
  assert.ok(await refreshWorks(secondDevice.body.refresh_token), 'the second device works before the revocation');
  await goTo(page, 'sessions', 'Sessions and apps');
  await page.getByRole('button', { name: 'Show' }).first().click();
  await confirmWithPassword(page, newPassword);
  const sessions = page.getByRole('list', { name: 'Sessions' });
  await sessions.getByText('This device').waitFor();
  assert.equal(await sessions.locator('li').count(), 2, 'this browser and the second device');
  await shot(page, '07-sessions');
  await sessions.getByRole('button', { name: /^Sign out / }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Sign out' }).click();
  await announced(page, 'was signed out.');
  await page.waitForFunction(() => document.querySelectorAll('[aria-label="Sessions"] li').length === 1);
  assert.equal(await refreshWorks(secondDevice.body.refresh_token), false, 'the revoked session still refreshes');

  // The remaining pages, for the screenshots, each with its content.
  await goTo(page, 'activity', 'Activity');
  await page.getByRole('cell', { name: 'Password changed' }).first().waitFor();
  await shot(page, '08-activity');
  await goTo(page, 'data', 'Your data');
  await shot(page, '09-your-data');
  await goTo(page, 'connections', 'Linked accounts');
  await shot(page, '10-linked-accounts');

  assert.deepEqual(problems, []);
  await context.close();
});

test('a field vanishes when the administrator turns it off, and locks when read-only', async () => {
  const { context, page, problems } = await openPage();
  const person = await createPerson();
  await signInOnPage(page, person.username, person.password);
  await page.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();
  assert.equal(await page.getByLabel('Name', { exact: true }).count(), 1);

  try {
    await admin('PATCH', '/api/account-center', { fields: { ...ALL_FIELDS_EDIT, name: 'Off', username: 'ReadOnly', session: 'Off' } });
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();
    await page.getByLabel('Avatar URL').waitFor();
    assert.equal(await page.getByLabel('Name', { exact: true }).count(), 0, 'the name field is still shown');
    assert.equal(await page.getByRole('link', { name: 'Sessions and apps' }).count(), 0, 'the sessions page is still listed');
    await goTo(page, 'login', 'Sign-in details');
    assert.equal(await page.getByRole('textbox', { name: 'Username' }).isDisabled(), true, 'a read-only username can be edited');
    await page.getByText('Your administrator does not let you change this.').first().waitFor();
    await shot(page, '11-read-only-field');
  } finally {
    await admin('PATCH', '/api/account-center', { fields: ALL_FIELDS_EDIT });
  }
  assert.deepEqual(problems, []);
  await context.close();
});

test('the vendored QR-code library is the npm package, byte for byte', async () => {
  const vendored = await readFile(new URL('../../crates/account-page/assets/vendor/qrcode.mjs', import.meta.url));
  const published = await readFile(new URL('./node_modules/qrcode-generator/dist/qrcode.mjs', import.meta.url));
  assert.ok(vendored.equals(published), 'crates/account-page/assets/vendor/qrcode.mjs differs from qrcode-generator on npm');
});
