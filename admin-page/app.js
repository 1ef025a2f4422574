// The admin page: signs in, then shows the screens the signed-in role may use.
import { loadConfig, completeSignIn, currentSession, claimsOf, signIn, signOut, SignInError } from './auth.js';
import { makeApi } from './api.js';
import { h, replace, problemBox, loading } from './ui.js';
import * as tenants from './views/tenants.js';
import * as keys from './views/keys.js';
import * as settings from './views/settings.js';
import * as billing from './views/billing.js';
import * as audit from './views/audit.js';
import * as system from './views/system.js';
import * as safety from './views/safety.js';

// Which screens each role sees; the API enforces the same table (docs/architecture.md).
const SCREENS = [
  { id: 'tenants', label: 'Tenants', roles: ['platform-admin', 'onboarding-manager'], view: tenants.render },
  { id: 'keys', label: 'API keys', roles: ['platform-admin', 'onboarding-manager', 'tenant-manager'], view: keys.render },
  { id: 'settings', label: 'Settings', roles: ['platform-admin', 'onboarding-manager', 'tenant-manager'], view: settings.render },
  { id: 'usage', label: 'Usage', roles: ['platform-admin', 'tenant-manager'], view: billing.renderUsage },
  { id: 'invoices', label: 'Invoices', roles: ['platform-admin', 'tenant-manager'], view: billing.renderInvoices },
  { id: 'audit', label: 'Audit log', roles: ['platform-admin', 'tenant-manager'], view: audit.render },
  { id: 'safety', label: 'Safety', roles: ['platform-admin'], view: safety.renderReview },
  { id: 'system', label: 'System', roles: ['platform-admin'], view: system.render },
];

const TENANT_KEY = 'nutripro.tenant';

const elements = {
  nav: document.getElementById('nav'),
  who: document.getElementById('who'),
  signOut: document.getElementById('sign-out'),
  signedOut: document.getElementById('signed-out'),
  signIn: document.getElementById('sign-in'),
  environment: document.getElementById('environment'),
  banner: document.getElementById('banner'),
  view: document.getElementById('view'),
};

function showBanner(text) {
  elements.banner.textContent = text;
  elements.banner.hidden = !text;
}

function showSignedOut(config, message) {
  elements.view.replaceChildren();
  elements.nav.replaceChildren();
  elements.signedOut.hidden = false;
  elements.signOut.hidden = true;
  elements.who.textContent = '';
  elements.environment.textContent = config && config.environment === 'local'
    ? 'Local mode: the local identity provider stands in for Cognito.'
    : '';
  if (message) showBanner(message);
  elements.signIn.onclick = async () => {
    elements.signIn.disabled = true;
    try {
      await signIn(config);
    } catch (error) {
      elements.signIn.disabled = false;
      showBanner(error.message);
    }
  };
}

function screensFor(roles) {
  return SCREENS.filter((screen) => screen.roles.some((role) => roles.includes(role)));
}

async function start() {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    replace(elements.view, problemBox(error));
    return;
  }
  let session;
  try {
    session = (await completeSignIn(config)) || currentSession();
  } catch (error) {
    showSignedOut(config, error instanceof SignInError ? error.message : `Sign-in failed: ${error.message}`);
    return;
  }
  if (!session) {
    showSignedOut(config);
    return;
  }
  const claims = claimsOf(session);
  const screens = screensFor(claims.roles);
  if (screens.length === 0) {
    showSignedOut(config, 'This account is in no administrator group; ask a platform administrator.');
    return;
  }
  const api = makeApi(config, () => session.accessToken, () => {
    showBanner('Your session has expired or was refused. Sign in again.');
  });

  elements.signedOut.hidden = true;
  elements.signOut.hidden = false;
  elements.signOut.onclick = () => signOut(config);
  replace(elements.who, claims.username, claims.roles.map((role) => h('span', { class: 'role', dataset: { role }, text: role })));
  replace(elements.nav, screens.map((screen) => h('a', { href: `#/${screen.id}`, id: `nav-${screen.id}`, dataset: { screen: screen.id }, text: screen.label })));

  const context = {
    api,
    claims,
    is: (role) => claims.roles.includes(role),
    // The tenant the screens work on: a tenant-manager's own, or the one chosen.
    get tenantId() {
      return claims.tenantId || sessionStorage.getItem(TENANT_KEY);
    },
    chooseTenant(tenantId) {
      if (tenantId) sessionStorage.setItem(TENANT_KEY, tenantId);
      else sessionStorage.removeItem(TENANT_KEY);
    },
    go(screen) {
      if (window.location.hash === `#/${screen}`) route();
      else window.location.hash = `#/${screen}`;
    },
  };

  async function route() {
    const id = window.location.hash.replace(/^#\/?/, '').split('/')[0];
    const screen = screens.find((s) => s.id === id) || screens[0];
    for (const link of elements.nav.querySelectorAll('a')) {
      link.classList.toggle('active', link.dataset.screen === screen.id);
      if (link.dataset.screen === screen.id) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    showBanner('');
    const container = h('section', { id: `screen-${screen.id}`, class: 'screen' });
    replace(elements.view, container);
    container.append(loading());
    try {
      await screen.view(container, context);
    } catch (error) {
      replace(container, problemBox(error));
    }
  }
  window.addEventListener('hashchange', route);
  await route();
}

start();
