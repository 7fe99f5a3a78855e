// A real OpenID Connect provider on loopback for Latchkey's social-connector tests
// (apps/server/tests/api/social_identities.rs). Development interactions only: any login name signs in with any
// password, and the account of login name NAME has the verified email NAME@example.com.
//
// Usage: node server.mjs [--port N] [--redirect-uri URL]... ; port 0 (the default) picks a free one. The first
// line on stdout is the issuer URL, printed once the provider listens.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'redirect-uri': { type: 'string', multiple: true, default: ['http://127.0.0.1/callback'] },
  },
});

export const CLIENT_ID = 'latchkey-test';
export const CLIENT_SECRET = 'latchkey-test-client-secret';

const server = createServer();
server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: values['redirect-uri'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'picture'],
    },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: `${sub}@example.com`,
            email_verified: true,
            name: `Test ${sub}`,
            picture: `https://example.com/avatars/${sub}.png`,
          };
        },
      };
    },
    features: { devInteractions: { enabled: true } },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${issuer}\n`);
});

// The test harness ends the process with SIGTERM; close cleanly so no port is left behind.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
