// Logto's own Management API client, `@logto/api`, used exactly as Logto documents it for self-hosted
// deployments, against a running Latchkey. scripts/node-e2e.sh starts the server and sets the variables below.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createManagementApi } from '@logto/api/management';

const required = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set (run scripts/node-e2e.sh)`);
  }
  return value;
};

const baseUrl = required('LATCHKEY_E2E_BASE_URL');
const clientId = required('LATCHKEY_E2E_CLIENT_ID');
const clientSecret = required('LATCHKEY_E2E_CLIENT_SECRET');

const managementApi = (secret) =>
  createManagementApi('default', {
    clientId,
    clientSecret: secret,
    baseUrl,
    apiIndicator: `${baseUrl}/api`,
  });

test('the client gets a token from /oidc/token and lists applications', async () => {
  const { apiClient, clientCredentials } = managementApi(clientSecret);

  const { data, error, response } = await apiClient.GET('/api/applications');

  assert.equal(response.status, 200, JSON.stringify(error));
  assert.ok(Array.isArray(data));
  assert.ok(data.some((application) => application.id === clientId), JSON.stringify(data));
  assert.equal(response.headers.get('total-number'), String(data.length));
  const token = await clientCredentials.getAccessToken();
  assert.equal(token.scope, 'all');
});

test('the client creates, reads and deletes an application; the secret is shown once', async () => {
  const { apiClient } = managementApi(clientSecret);

  const created = await apiClient.POST('/api/applications', {
    body: { name: 'node e2e', type: 'MachineToMachine' },
  });
  assert.equal(created.response.status, 200, JSON.stringify(created.error));
  const { id, secret } = created.data;
  assert.equal(typeof secret, 'string');

  const fetched = await apiClient.GET('/api/applications/{id}', { params: { path: { id } } });
  assert.equal(fetched.response.status, 200, JSON.stringify(fetched.error));
  assert.equal(fetched.data.name, 'node e2e');
  assert.equal(fetched.data.type, 'MachineToMachine');
  assert.equal(fetched.data.secret, undefined);

  const secrets = await apiClient.GET('/api/applications/{id}/secrets', { params: { path: { id } } });
  assert.equal(secrets.response.status, 200, JSON.stringify(secrets.error));
  assert.deepEqual(
    secrets.data.map(({ name, value }) => ({ name, value })),
    [{ name: 'Default secret', value: undefined }]
  );

  const deleted = await apiClient.DELETE('/api/applications/{id}', { params: { path: { id } } });
  assert.equal(deleted.response.status, 204);
  const gone = await apiClient.GET('/api/applications/{id}', { params: { path: { id } } });
  assert.equal(gone.response.status, 404);
  assert.equal(gone.error.code, 'entity.not_exists_with_id');
});

test('with a wrong secret the token endpoint answers 401 invalid_client', async () => {
  const { apiClient } = managementApi(`${clientSecret}-wrong`);

  // The client turns the token endpoint's refusal into an error carrying the status.
  await assert.rejects(apiClient.GET('/api/applications'), (error) => {
    assert.equal(error.name, 'ClientCredentialsError');
    assert.match(error.message, /\b401\b/);
    return true;
  });

  // The same request the client sends, to see the body it discards.
  const response = await fetch(`${baseUrl}/oidc/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: `${clientSecret}-wrong`,
      resource: `${baseUrl}/api`,
      scope: 'all',
    }).toString(),
  });
  assert.equal(response.status, 401);
  const body = await response.json();
  assert.equal(body.error, 'invalid_client');
  assert.equal(body.code, 'oidc.invalid_client');
});
