// API keys: issue (the secret is shown once, with a copy button), list with last use,
// rotate with a grace period, revoke, register the public key a client signs requests
// with (RFC 9421; README "Signing requests").
import { tenantPath } from '../api.js';
import { h, replace, busy, empty, dateTime, status, table, confirmDialog, copyButton, load } from '../ui.js';
import { withTenant } from './tenants.js';

// What a key may do on /v1 (spec section 11); a new key gets all unless narrowed.
const SCOPES = [
  ['content:read', 'read consent, styles, samples and generations'],
  ['content:write', 'record consent, erase dietitians, add and delete samples'],
  ['generate', 'create generations (spends the budget)'],
  ['usage:read', 'read usage'],
];

const DEFAULT_GRACE_SECONDS = 86400;

export function render(container, context) {
  return withTenant(container, context, 'API keys', (tenantId, content) => renderKeys(tenantId, content, context));
}

async function renderKeys(tenantId, content, context) {
  const { api } = context;
  const mayChange = context.is('platform-admin') || context.is('tenant-manager');
  const errors = h('div', { id: 'key-errors' });
  const secretSlot = h('div', { id: 'secret-slot' });
  const list = h('div', { id: 'key-list' });
  const signingSlot = h('div', { id: 'signing-slot' });

  // Only a public key is ever entered here: the private key stays with the client.
  const showSigningForm = (key) => {
    const algorithm = h('select', { id: 'signing-algorithm' },
      h('option', { value: 'ed25519', text: 'Ed25519' }),
      h('option', { value: 'ecdsa-p256-sha256', text: 'ECDSA P-256 (SHA-256)' }));
    if (key.signing_key) algorithm.value = key.signing_key.algorithm;
    const publicKey = h('textarea', { id: 'signing-public-key', rows: 3, required: true, maxlength: 2048,
      placeholder: 'base64url of the raw public key, or a PEM "BEGIN PUBLIC KEY" block' });
    const required = h('input', { id: 'signing-required', type: 'checkbox', checked: Boolean(key.signing_key?.signature_required) });
    const save = h('button', { id: 'signing-save', type: 'submit', text: 'Register public key' });
    const remove = key.signing_key ? h('button', {
      class: 'danger small', type: 'button', id: 'signing-remove', text: 'Remove signing key',
      on: {
        click: (event) => busy(event.currentTarget, errors, async () => {
          await api.del(tenantPath(tenantId, `/keys/${encodeURIComponent(key.key_id)}/signing-key`));
          signingSlot.replaceChildren();
          await refresh();
        }),
      },
    }) : null;
    const form = h('form', { class: 'card', id: 'signing-form' },
      h('h2', { text: `Signing key for "${key.name}"` }),
      h('p', { class: 'muted', text: 'Requests with this key can carry HTTP Message Signatures (RFC 9421). Paste the client\'s public key; its private key never leaves the client, so the service cannot forge its signature.' }),
      key.signing_key ? h('p', {}, 'Registered now: ', h('code', { text: key.signing_key.algorithm }), ' fingerprint ', h('code', { text: key.signing_key.fingerprint.slice(0, 16) })) : null,
      h('div', { class: 'form-grid' }, h('label', {}, 'Algorithm', algorithm), h('label', {}, 'Public key', publicKey)),
      h('label', { class: 'choice' }, required, ' Require signatures: refuse unsigned requests with this key'),
      h('div', { class: 'actions' }, save, remove,
        h('button', { class: 'secondary small', type: 'button', text: 'Cancel', on: { click: () => signingSlot.replaceChildren() } })));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      busy(save, errors, async () => {
        await api.put(tenantPath(tenantId, `/keys/${encodeURIComponent(key.key_id)}/signing-key`),
          { algorithm: algorithm.value, public_key: publicKey.value.trim(), signature_required: required.checked });
        signingSlot.replaceChildren();
        await refresh();
      });
    });
    replace(signingSlot, form);
    publicKey.focus();
  };

  const showSecret = (issued, verb) => {
    replace(secretSlot, h('div', { class: 'secret', id: 'new-secret' },
      h('strong', { text: `${verb} key "${issued.name}". Copy the secret now: it is shown only this once and cannot be retrieved later.` }),
      h('code', { id: 'secret-value', text: issued.api_key }),
      h('div', { class: 'actions' },
        copyButton(issued.api_key, 'Copy secret'),
        h('button', { class: 'secondary small', type: 'button', id: 'secret-done', text: 'I have stored it', on: { click: () => secretSlot.replaceChildren() } }))));
  };

  const refresh = () => load(list, () => api.get(tenantPath(tenantId, '/keys')), (page) => {
    if (page.items.length === 0) return empty('This tenant has no API keys yet.');
    return table(['Name', 'Status', 'Scopes', 'Signing', 'Created', 'Last used', 'Expires', 'Old secret valid until', 'Key id', ''], page.items.map((key) => {
      const actions = h('div', { class: 'actions' });
      if (mayChange && key.status === 'active') {
        actions.append(h('button', {
          class: 'secondary small', type: 'button', text: 'Rotate', dataset: { action: 'rotate' },
          on: {
            click: (event) => busy(event.currentTarget, errors, async () => {
              const answer = await confirmDialog({
                title: `Rotate "${key.name}"?`,
                message: 'A new secret replaces the current one under the same key id. The current secret keeps working for the grace period, then stops.',
                confirmLabel: 'Rotate',
                danger: false,
                input: { label: 'Grace period (seconds, 0 ends the old secret now)', type: 'number', value: String(DEFAULT_GRACE_SECONDS) },
              });
              if (!answer) return;
              const grace = Number.parseInt(answer.value, 10);
              const rotated = await api.post(tenantPath(tenantId, `/keys/${encodeURIComponent(key.key_id)}/rotate`),
                { grace_seconds: Number.isNaN(grace) ? DEFAULT_GRACE_SECONDS : grace });
              showSecret(rotated, 'Rotated');
              await refresh();
            }),
          },
        }));
        actions.append(h('button', {
          class: 'secondary small', type: 'button', text: 'Signing key', dataset: { action: 'signing-key' },
          on: { click: () => showSigningForm(key) },
        }));
        actions.append(h('button', {
          class: 'secondary small', type: 'button', text: 'Certificate', dataset: { action: 'certificate' },
          on: {
            click: (event) => busy(event.currentTarget, errors, async () => {
              const answer = await confirmDialog({
                title: `Client certificate for "${key.name}"`,
                message: 'With a certificate bound, every request with this key must present exactly that certificate (mutual TLS). Paste its SHA-256 fingerprint; leave it empty to unbind.',
                confirmLabel: 'Save',
                danger: false,
                input: { label: 'SHA-256 fingerprint', type: 'text', value: key.client_certificate_sha256 || '' },
              });
              if (!answer) return;
              const fingerprint = answer.value.trim().replace(/^sha256 fingerprint=/i, '');
              await api.put(tenantPath(tenantId, `/keys/${encodeURIComponent(key.key_id)}/client-certificate`),
                { client_certificate_sha256: fingerprint || null });
              await refresh();
            }),
          },
        }));
        actions.append(h('button', {
          class: 'danger small', type: 'button', text: 'Revoke', dataset: { action: 'revoke' },
          on: {
            click: (event) => busy(event.currentTarget, errors, async () => {
              const confirmed = await confirmDialog({
                title: `Revoke "${key.name}"?`,
                message: 'Every request with this key (and any old secret still in its grace period) is refused from now on.',
                confirmLabel: 'Revoke',
              });
              if (!confirmed) return;
              await api.del(tenantPath(tenantId, `/keys/${encodeURIComponent(key.key_id)}`));
              await refresh();
            }),
          },
        }));
      }
      return h('tr', { dataset: { keyId: key.key_id, status: key.status } },
        h('td', {}, h('strong', { text: key.name })),
        h('td', {}, status(key.status)),
        h('td', { class: 'scopes' },
          key.scopes.length === SCOPES.length ? h('span', { class: 'muted', text: 'all' }) : key.scopes.map((scope) => h('code', { class: 'scope', text: scope })),
          key.requests_per_minute ? h('div', { class: 'muted', text: `${key.requests_per_minute}/min` }) : null),
        h('td', { class: 'signing' }, key.signing_key
          ? [h('code', { text: key.signing_key.algorithm }),
            h('div', { class: 'muted', text: key.signing_key.signature_required ? 'required' : 'optional' })]
          : h('span', { class: 'muted', text: 'unsigned' }),
          key.client_certificate_sha256
            ? h('div', { class: 'muted certificate', title: key.client_certificate_sha256, text: `certificate ${key.client_certificate_sha256.slice(0, 12)}…` })
            : null),
        h('td', { text: dateTime(key.created_at) }),
        h('td', { class: 'last-used', text: key.last_used_at ? dateTime(key.last_used_at) : 'never' }),
        h('td', { text: key.expires_at ? dateTime(key.expires_at) : 'never' }),
        h('td', { text: key.previous_secret_valid_until ? dateTime(key.previous_secret_valid_until) : '—' }),
        h('td', {}, h('code', { text: key.key_id })),
        h('td', {}, actions));
    }));
  });

  const name = h('input', { id: 'new-key-name', required: true, maxlength: 100, placeholder: 'production' });
  const expires = h('input', { id: 'new-key-expires', type: 'date' });
  const rpm = h('input', { id: 'new-key-rpm', type: 'number', min: 1, max: 100000, placeholder: "the tenant's" });
  const certificate = h('input', { id: 'new-key-certificate', maxlength: 130, placeholder: 'openssl x509 -noout -fingerprint -sha256 -in client.pem' });
  const scopeBoxes = SCOPES.map(([scope]) => h('input', { type: 'checkbox', value: scope, checked: true, dataset: { scope } }));
  const issue = h('button', { id: 'issue-key', type: 'submit', text: 'Issue key' });
  const form = h('form', { class: 'card', id: 'issue-key-form' },
    h('h2', { text: 'Issue a key' }),
    h('div', { class: 'form-grid' }, h('label', {}, 'Name', name), h('label', {}, 'Expires (optional)', expires),
      h('label', {}, 'Own rate limit (requests per minute, optional)', rpm),
      h('label', {}, 'Client certificate SHA-256 (mutual TLS, optional)', certificate)),
    h('fieldset', { id: 'new-key-scopes' }, h('legend', { text: 'Scopes: what the key may do' }),
      SCOPES.map(([scope, what], i) => h('label', { class: 'choice' }, scopeBoxes[i], h('code', { text: scope }), ` ${what}`))),
    issue);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(issue, errors, async () => {
      const body = { name: name.value.trim() };
      if (expires.value) body.expires_at = new Date(`${expires.value}T23:59:59Z`).toISOString();
      const chosen = scopeBoxes.filter((box) => box.checked).map((box) => box.value);
      if (chosen.length !== SCOPES.length) body.scopes = chosen;
      if (rpm.value) body.requests_per_minute = Number(rpm.value);
      const fingerprint = certificate.value.trim().replace(/^sha256 fingerprint=/i, '');
      if (fingerprint) body.client_certificate_sha256 = fingerprint;
      const issued = await api.post(tenantPath(tenantId, '/keys'), body);
      name.value = '';
      expires.value = '';
      rpm.value = '';
      certificate.value = '';
      scopeBoxes.forEach((box) => { box.checked = true; });
      showSecret(issued, 'Issued');
      await refresh();
    });
  });
  replace(content, form, errors, secretSlot, signingSlot, h('h2', { text: 'Keys' }), list);
  await refresh();
}
