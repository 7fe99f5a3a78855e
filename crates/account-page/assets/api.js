// The page's only way to the server: the public sign-in API, the token endpoint and the Account API, exactly as a
// third-party front end would call them. Tokens travel in the Authorization header, never in a cookie, so another
// site cannot make the browser send them (no CSRF). They live in sessionStorage: gone when the tab closes, and out of
// reach of other origins; the strict Content-Security-Policy keeps foreign scripts out of this one.

const SESSION_KEY = 'latchkey.account.session';
const VERIFICATION_KEY = 'latchkey.account.verification';
/** Everything the Account API can show; the server drops scopes it does not know. */
export const SCOPES = 'openid offline_access profile email phone custom_data identities urn:logto:scope:sessions';

export class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

let config = null;
const signedOutListeners = [];

export async function loadConfig() {
  ({ body: config } = await send('GET', '/account/config.json', { anonymous: true }));
  return config;
}

export function clientId() {
  return config.clientId;
}

/** What the server told the page about itself (`/account/config.json`). */
export function clientConfig() {
  return config;
}

export function onSignedOut(listener) {
  signedOutListeners.push(listener);
}

function readJson(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

export function session() {
  return readJson(SESSION_KEY);
}

function storeTokens(answer) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token,
    expiresAt: Date.now() + answer.expires_in * 1000,
  }));
}

export function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(VERIFICATION_KEY);
}

/** The verification record proving "it is me" for sensitive changes (`logto-verification-id`), while it lasts. */
export function currentVerification() {
  const record = readJson(VERIFICATION_KEY);
  // A minute of margin: a record must not expire between the check and the request that carries it.
  return record && record.expiresAt - 60_000 > Date.now() ? record.id : null;
}

/** `expiresAt` as the API gives it: ISO 8601 for verification records. */
export function rememberVerification(id, expiresAt) {
  sessionStorage.setItem(VERIFICATION_KEY, JSON.stringify({ id, expiresAt: new Date(expiresAt).getTime() }));
}

export function forgetVerification() {
  sessionStorage.removeItem(VERIFICATION_KEY);
}

/** One HTTP exchange; JSON in and out; an error answer becomes an `ApiError` with Logto's code. */
async function send(method, path, { body, form, headers = {}, anonymous = false, token } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, cache: 'no-store', credentials: 'omit' };
  if (form) {
    init.body = new URLSearchParams(form);
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (!anonymous && token) init.headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'Could not reach the server.');
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    const code = parsed?.code ?? parsed?.error ?? `http.${response.status}`;
    const message = parsed?.message ?? parsed?.error_description ?? response.statusText;
    throw new ApiError(response.status, code, message, parsed?.data);
  }
  return { body: parsed, headers: response.headers };
}

let refreshing = null;

/** Trades the refresh token for new tokens; concurrent callers share one exchange (refresh tokens rotate: a second
 *  use of the old one would be taken for a replay and end the session). */
function refreshTokens() {
  refreshing ??= (async () => {
    const current = session();
    if (!current?.refreshToken) throw new ApiError(401, 'auth.unauthorized', 'Signed out.');
    const { body } = await send('POST', '/oidc/token', {
      anonymous: true,
      form: { grant_type: 'refresh_token', refresh_token: current.refreshToken, client_id: clientId() },
    });
    storeTokens(body);
  })().finally(() => { refreshing = null; });
  return refreshing;
}

function signedOut() {
  forgetSession();
  for (const listener of signedOutListeners) listener();
}

/** An Account API call with the signed-in user's token, refreshed when it has expired or been refused. */
export async function call(method, path, { body, verification, raw = false } = {}) {
  let current = session();
  if (!current) {
    signedOut();
    throw new ApiError(401, 'auth.unauthorized', 'Signed out.');
  }
  const headers = verification ? { 'logto-verification-id': verification } : {};
  if (current.expiresAt - 30_000 < Date.now()) {
    await refreshTokens().catch(() => {});
    current = session();
  }
  try {
    const answer = await send(method, path, { body, headers, token: current?.accessToken });
    return raw ? answer : answer.body;
  } catch (error) {
    // The server no longer takes that proof (expired, or made before a password change): the next action asks anew.
    if (error.code === 'verification_record.permission_denied') forgetVerification();
    if (error.status !== 401 || !error.code.startsWith('auth.')) throw error;
    try {
      await refreshTokens();
    } catch {
      signedOut();
      throw error;
    }
    const answer = await send(method, path, { body, headers, token: session()?.accessToken }).catch((retry) => {
      if (retry.status === 401 && retry.code.startsWith('auth.')) signedOut();
      throw retry;
    });
    return raw ? answer : answer.body;
  }
}

// Sign-in API (docs/sign-in.md): password or code first, then the second factor when the account has one.

export async function signInWithPassword(identifier, password) {
  const { body } = await send('POST', '/api/sign-in', {
    anonymous: true,
    body: { clientId: clientId(), identifier, password, scope: SCOPES },
  });
  storeTokens(body);
}

export async function sendSignInCode(identifier) {
  const { body } = await send('POST', '/api/sign-in/verification-code', {
    anonymous: true,
    body: { clientId: clientId(), identifier },
  });
  return body.verificationId;
}

export async function signInWithCode(identifier, verificationId, code) {
  const { body } = await send('POST', '/api/sign-in', {
    anonymous: true,
    body: { clientId: clientId(), identifier, verificationId, code, scope: SCOPES },
  });
  storeTokens(body);
}

export async function finishMfa(mfaToken, type, code) {
  const { body } = await send('POST', '/api/sign-in/mfa', { anonymous: true, body: { mfaToken, type, code } });
  storeTokens(body);
}

export async function signOut() {
  const current = session();
  try {
    if (current) await send('POST', '/api/sign-out', { token: current.accessToken });
  } finally {
    signedOut();
  }
}

/** The account-center settings everyone may read: which fields are Off, ReadOnly or Edit. */
export async function accountCenter() {
  const { body } = await send('GET', '/api/.well-known/account-center', { anonymous: true });
  return body;
}
