// Sign-in: OAuth2 authorization code with PKCE (S256), the same code against Cognito's
// hosted sign-in in AWS and the local identity provider locally; config.json says where.
// Only the access token is kept, in sessionStorage (gone when the tab closes); no
// refresh token is stored: when the access token expires, the user signs in again.

const SESSION_KEY = 'nutripro.session';
const PENDING_KEY = 'nutripro.pending';

export class SignInError extends Error {}

export async function loadConfig() {
  const response = await fetch('/config.json', { cache: 'no-store' });
  if (!response.ok) throw new SignInError(`config.json could not be loaded (HTTP ${response.status}).`);
  const config = await response.json();
  for (const field of ['authorizeUrl', 'tokenUrl', 'clientId']) {
    if (typeof config[field] !== 'string' || config[field] === '') {
      throw new SignInError(`config.json has no ${field}.`);
    }
  }
  return config;
}

function base64url(bytes) {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(byteCount) {
  const bytes = new Uint8Array(byteCount);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

async function s256(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function redirectUri(config) {
  return config.redirectUri || `${window.location.origin}/`;
}

/** Sends the browser to the authorization endpoint with a fresh verifier and state. */
export async function signIn(config) {
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(config.authorizeUrl, window.location.origin);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(config),
    scope: config.scope || 'openid',
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.toString());
}

/**
 * Finishes a sign-in if the URL carries a code (or an error): checks the state against
 * this tab's pending request, exchanges the code with the verifier, keeps the token.
 * Returns the session, or null when the URL is not a sign-in response.
 */
export async function completeSignIn(config) {
  const params = new URLSearchParams(window.location.search);
  if (!params.has('code') && !params.has('error')) return null;
  window.history.replaceState(null, '', window.location.pathname + window.location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || 'null');
  sessionStorage.removeItem(PENDING_KEY);
  if (params.has('error')) {
    throw new SignInError(`Sign-in failed: ${params.get('error')}. ${params.get('error_description') || ''}`);
  }
  if (!pending || params.get('state') !== pending.state) {
    throw new SignInError('This sign-in response was not requested by this tab (state mismatch). Sign in again.');
  }
  const response = await fetch(new URL(config.tokenUrl, window.location.origin), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: config.clientId,
      code: params.get('code'),
      redirect_uri: redirectUri(config),
      code_verifier: pending.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || typeof body.access_token !== 'string') {
    throw new SignInError(`The token endpoint refused the code: ${body.error || `HTTP ${response.status}`}. ${body.error_description || ''}`);
  }
  const session = {
    accessToken: body.access_token,
    expiresAt: Date.now() + (Number(body.expires_in) || 3600) * 1000,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

/** The current session, if there is one that has not expired. */
export function currentSession() {
  const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
  if (!session || typeof session.accessToken !== 'string' || session.expiresAt <= Date.now() + 5000) {
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }
  return session;
}

/**
 * What the access token says about its holder, for display and for choosing screens only:
 * the API checks the token and the permission table on every request.
 */
export function claimsOf(session) {
  const payload = session.accessToken.split('.')[1] || '';
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
  const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
  const roles = Array.isArray(claims['cognito:groups']) ? claims['cognito:groups'] : [];
  return {
    username: claims.username || claims.sub || 'unknown',
    roles,
    tenantId: claims['custom:tenant_id'] || null,
  };
}

export function signOut(config) {
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  sessionStorage.removeItem('nutripro.tenant');
  if (config && config.logoutUrl) {
    const url = new URL(config.logoutUrl);
    url.search = new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri(config) }).toString();
    window.location.assign(url.toString());
  } else {
    window.location.assign('/');
  }
}
