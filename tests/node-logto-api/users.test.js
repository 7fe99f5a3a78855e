// Logto's user routes through Logto's own client (`@logto/api`), with every response body checked against the
// schema Logto publishes for it (logto-schemas.js makes them from the package's OpenAPI types): an extra key, a
// missing one or a wrong type fails. scripts/node-e2e.sh starts the server and sets the variables below.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { createManagementApi } from '@logto/api/management';

import { violations } from './logto-schemas.js';

const required = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set (run scripts/node-e2e.sh)`);
  }
  return value;
};

const baseUrl = required('LATCHKEY_E2E_BASE_URL');
const { apiClient } = createManagementApi('default', {
  clientId: required('LATCHKEY_E2E_CLIENT_ID'),
  clientSecret: required('LATCHKEY_E2E_CLIENT_SECRET'),
  baseUrl,
  apiIndicator: `${baseUrl}/api`,
});

/** Asserts the status, then that the body conforms to Logto's schema `schema`; returns the body. */
const expectConforming = ({ data, error, response }, status, schema) => {
  assert.equal(response.status, status, `${response.url}: ${JSON.stringify(error)}`);
  assert.deepEqual(
    violations(schema, data),
    [],
    `${response.url}: the body does not match Logto's ${schema} response schema: ${JSON.stringify(data)}`
  );
  return data;
};

/** Asserts an empty 204. */
const expectNoContent = async ({ response }) => {
  assert.equal(response.status, 204, response.url);
  // openapi-fetch does not read a 204's body; the test reads nothing either, it only checks none was meant.
  assert.equal(response.headers.get('content-length') ?? '0', '0');
};

/** Asserts a Logto error body with this status and code. */
const expectError = ({ data, error, response }, status, code) => {
  assert.equal(response.status, status, `${response.url}: ${JSON.stringify(data ?? error)}`);
  assert.equal(error?.code, code, JSON.stringify(error));
  assert.equal(typeof error.message, 'string');
};

const suffix = randomBytes(4).toString('hex');
const username = `node_e2e_${suffix}`;
const password = `Correct-horse-${suffix}`;
const path = (userId) => ({ params: { path: { userId } } });

// The tests of one file run one after the other, in order: each step works on the user the first one created.
let userId;

test('the checker itself rejects an extra key, a missing key and a wrong type', () => {
  assert.deepEqual(violations('GetUserHasPassword', { hasPassword: false }), []);
  assert.ok(violations('GetUserHasPassword', { hasPassword: false, extra: 1 }).some((v) => v.includes('"extra"')));
  assert.ok(violations('GetUserHasPassword', {}).some((v) => v.includes('"hasPassword"')));
  assert.notDeepEqual(violations('GetUserHasPassword', { hasPassword: 'yes' }), []);
  // Nested objects are closed too: Logto's profile address has no `street`.
  assert.ok(violations('UpdateUserProfile', { address: { street: 'x' } }).length > 0);
});

test('POST /api/users creates a user in Logto’s shape', async () => {
  const user = expectConforming(
    await apiClient.POST('/api/users', {
      body: {
        username,
        primaryEmail: `${username}@example.com`,
        name: 'Node E2E',
        password,
        customData: { plan: 'free' },
        profile: { givenName: 'Ada' },
      },
    }),
    200,
    'CreateUser'
  );
  assert.equal(user.username, username);
  assert.equal(user.primaryEmail, `${username}@example.com`);
  assert.deepEqual(user.customData, { plan: 'free' });
  assert.equal(user.profile.givenName, 'Ada');
  assert.equal(user.isSuspended, false);
  assert.equal(user.hasPassword, true);
  userId = user.id;
});

test('GET /api/users/{userId} returns the same user', async () => {
  const user = expectConforming(await apiClient.GET('/api/users/{userId}', path(userId)), 200, 'GetUser');
  assert.equal(user.id, userId);
  assert.equal(user.username, username);
});

test('GET /api/users lists users with Total-Number and Link', async () => {
  // A second user, so that a page of one has a next page.
  const other = expectConforming(
    await apiClient.POST('/api/users', { body: { username: `${username}_2` } }),
    200,
    'CreateUser'
  );
  assert.equal(other.hasPassword, false);

  const all = await apiClient.GET('/api/users');
  const users = expectConforming(all, 200, 'ListUsers');
  assert.ok(users.some((user) => user.id === userId));
  assert.equal(all.response.headers.get('total-number'), String(users.length));

  const first = await apiClient.GET('/api/users', { params: { query: { page: 1, page_size: 1 } } });
  assert.equal(expectConforming(first, 200, 'ListUsers').length, 1);
  assert.equal(first.response.headers.get('total-number'), String(users.length));
  const link = first.response.headers.get('link');
  assert.match(link ?? '', /[?&]page=2\b[^>]*>; rel="next"/, link);
  assert.match(link, /rel="last"/);
});

test('PATCH /api/users/{userId} changes the user', async () => {
  const user = expectConforming(
    await apiClient.PATCH('/api/users/{userId}', { ...path(userId), body: { name: 'Renamed', avatar: null } }),
    200,
    'UpdateUser'
  );
  assert.equal(user.name, 'Renamed');
  assert.equal(user.avatar, null);
});

test('GET and PATCH /api/users/{userId}/custom-data merge into the custom data', async () => {
  const before = expectConforming(
    await apiClient.GET('/api/users/{userId}/custom-data', path(userId)),
    200,
    'ListUserCustomData'
  );
  assert.deepEqual(before, { plan: 'free' });
  const after = expectConforming(
    await apiClient.PATCH('/api/users/{userId}/custom-data', {
      ...path(userId),
      body: { customData: { seats: 3 } },
    }),
    200,
    'UpdateUserCustomData'
  );
  assert.deepEqual(after, { plan: 'free', seats: 3 });
});

test('PATCH /api/users/{userId}/profile merges into the profile', async () => {
  const profile = expectConforming(
    await apiClient.PATCH('/api/users/{userId}/profile', {
      ...path(userId),
      body: { profile: { familyName: 'Lovelace', address: { country: 'GB' } } },
    }),
    200,
    'UpdateUserProfile'
  );
  assert.equal(profile.givenName, 'Ada');
  assert.equal(profile.familyName, 'Lovelace');
  assert.equal(profile.address?.country, 'GB');
});

test('GET /api/users/{userId}/logto-configs', async () => {
  const configs = expectConforming(
    await apiClient.GET('/api/users/{userId}/logto-configs', path(userId)),
    200,
    'ListUserLogtoConfigs'
  );
  assert.equal(configs.mfa.skipped, false);
  assert.equal(configs.passkeySignIn.skipped, false);
});

test('PATCH /api/users/{userId}/logto-configs', async () => {
  const configs = expectConforming(
    await apiClient.PATCH('/api/users/{userId}/logto-configs', {
      ...path(userId),
      body: { mfa: { skipped: true }, passkeySignIn: { skipped: true } },
    }),
    200,
    'UpdateUserLogtoConfigs'
  );
  assert.equal(configs.mfa.skipped, true);
  assert.equal(configs.passkeySignIn.skipped, true);
});

test('PATCH /api/users/{userId}/password, then POST …/password/verify and GET …/has-password', async () => {
  const newPassword = `${password}-new`;
  const user = expectConforming(
    await apiClient.PATCH('/api/users/{userId}/password', { ...path(userId), body: { password: newPassword } }),
    200,
    'UpdateUserPassword'
  );
  assert.equal(user.hasPassword, true);

  await expectNoContent(
    await apiClient.POST('/api/users/{userId}/password/verify', { ...path(userId), body: { password: newPassword } })
  );
  expectError(
    await apiClient.POST('/api/users/{userId}/password/verify', { ...path(userId), body: { password } }),
    422,
    'session.invalid_credentials'
  );

  const has = expectConforming(
    await apiClient.GET('/api/users/{userId}/has-password', path(userId)),
    200,
    'GetUserHasPassword'
  );
  assert.deepEqual(has, { hasPassword: true });
});

test('PATCH /api/users/{userId}/is-suspended suspends and reinstates', async () => {
  for (const isSuspended of [true, false]) {
    const user = expectConforming(
      await apiClient.PATCH('/api/users/{userId}/is-suspended', { ...path(userId), body: { isSuspended } }),
      200,
      'UpdateUserIsSuspended'
    );
    assert.equal(user.isSuspended, isSuspended);
  }
});

test('POST, GET and DELETE /api/users/{userId}/mfa-verifications bind, list and remove factors', async () => {
  const mfa = '/api/users/{userId}/mfa-verifications';
  expectError(
    await apiClient.POST(mfa, { ...path(userId), body: { type: 'Totp' } }),
    400,
    'session.mfa.mfa_factor_not_enabled'
  );
  const signInExperience = await apiClient.PATCH('/api/sign-in-exp', {
    body: { mfa: { factors: ['Totp', 'BackupCode'], policy: 'UserControlled' } },
  });
  assert.equal(signInExperience.response.status, 200, JSON.stringify(signInExperience.error));

  const totp = expectConforming(
    await apiClient.POST(mfa, { ...path(userId), body: { type: 'Totp' } }),
    200,
    'CreateUserMfaVerification'
  );
  assert.equal(totp.type, 'Totp');
  assert.match(totp.secret, /^[A-Z2-7]{32}$/);
  assert.match(totp.secretQrCode, /^data:image\/png;base64,/);
  const backupCodes = expectConforming(
    await apiClient.POST(mfa, { ...path(userId), body: { type: 'BackupCode' } }),
    200,
    'CreateUserMfaVerification'
  );
  assert.equal(backupCodes.codes.length, 10);

  const listed = expectConforming(await apiClient.GET(mfa, path(userId)), 200, 'ListUserMfaVerifications');
  assert.deepEqual(
    listed.map(({ type, remainCodes }) => ({ type, remainCodes })),
    [{ type: 'Totp', remainCodes: undefined }, { type: 'BackupCode', remainCodes: 10 }]
  );
  await expectNoContent(
    await apiClient.DELETE(`${mfa}/{verificationId}`, {
      params: { path: { userId, verificationId: listed[0].id } },
    })
  );
  assert.deepEqual(expectConforming(await apiClient.GET(mfa, path(userId)), 200, 'ListUserMfaVerifications'), []);
});

test('POST /api/users with a username in use answers 422 user.username_already_in_use', async () => {
  expectError(await apiClient.POST('/api/users', { body: { username } }), 422, 'user.username_already_in_use');
});

test('DELETE /api/users/{userId} answers 204; the user is then not found', async () => {
  await expectNoContent(await apiClient.DELETE('/api/users/{userId}', path(userId)));
  expectError(await apiClient.GET('/api/users/{userId}', path(userId)), 404, 'entity.not_found');
});
