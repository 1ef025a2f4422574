// The audit log: filters, pages, and (platform-admin) verification of the hash chain.
import { query } from '../api.js';
import { h, replace, busy, dateTime, status, table, pagedList } from '../ui.js';

function isoOrEmpty(input) {
  if (!input.value) return '';
  const date = new Date(input.value);
  return Number.isNaN(date.getTime()) ? input.value : date.toISOString();
}

export async function render(container, context) {
  const { api } = context;
  const platformAdmin = context.is('platform-admin');
  const tenant = h('input', { id: 'audit-tenant', maxlength: 64, placeholder: 'any', value: platformAdmin ? '' : context.claims.tenantId || '', disabled: !platformAdmin });
  const actor = h('input', { id: 'audit-actor', maxlength: 200, placeholder: 'any' });
  const action = h('input', { id: 'audit-action', maxlength: 64, placeholder: 'e.g. key.rotate', list: 'audit-actions' });
  const from = h('input', { id: 'audit-from', type: 'datetime-local' });
  const to = h('input', { id: 'audit-to', type: 'datetime-local' });
  const actions = h('datalist', { id: 'audit-actions' },
    ['tenant.create', 'tenant.update', 'tenant.offboard', 'key.issue', 'key.rotate', 'key.revoke', 'key.anomaly', 'tenant_settings.update', 'system_settings.update', 'plan.put', 'billing.close']
      .map((value) => h('option', { value })));
  const list = h('div', { id: 'audit-list' });
  const verification = h('div', { id: 'audit-verification' });
  const refresh = pagedList(list, {
    fetchPage: (cursor) => api.get(`/admin/audit${query({
      tenant_id: platformAdmin ? tenant.value.trim() : '', actor: actor.value.trim(), action: action.value.trim(),
      from: isoOrEmpty(from), to: isoOrEmpty(to), cursor,
    })}`),
    render: entryTable,
    emptyText: () => 'No audit entries match these filters.',
    moreId: 'audit-more',
  });

  const filters = h('form', { class: 'card', id: 'audit-filters' },
    h('div', { class: 'form-grid' },
      h('label', {}, 'Tenant id', tenant), h('label', {}, 'Actor', actor), h('label', {}, 'Action', action, actions),
      h('label', {}, 'From', from), h('label', {}, 'To', to)),
    h('button', { type: 'submit', id: 'audit-apply', text: 'Apply filters' }));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    refresh();
  });
  const parts = [h('h1', { text: 'Audit log' }), filters];
  if (platformAdmin) {
    const verify = h('button', { id: 'verify-chain', type: 'button', class: 'secondary', text: 'Verify chain' });
    verify.addEventListener('click', () => busy(verify, verification, async () => {
      const result = await api.get('/admin/audit/verify');
      // The chain itself, then the chain against its newest signed checkpoint (a deleted or
      // rewritten tail leaves every remaining link intact: only the checkpoint shows it).
      const checkpoint = result.checkpoint || { status: 'none' };
      const checkpointText = {
        none: 'No checkpoint written yet.',
        consistent: `Matches the signed checkpoint at entry ${checkpoint.seq}${result.checkpoint_at ? ` (${dateTime(result.checkpoint_at)})` : ''}.`,
        tail_deleted: `Entries after ${checkpoint.chain_head} were deleted: the signed checkpoint names entry ${checkpoint.seq}.`,
        rewritten: `Entry ${checkpoint.seq} is not the one the signed checkpoint names: the tail was rewritten.`,
        bad_signature: `The newest checkpoint (entry ${checkpoint.seq}) is not signed by the service key.`,
      }[checkpoint.status];
      const headline = result.first_broken
        ? `Chain broken at entry ${result.first_broken.seq}.`
        : result.ok ? `Chain intact: ${result.checked} entries checked.` : 'Chain does not match its checkpoint.';
      replace(verification, h('div', { class: result.ok ? 'notice' : 'problem', id: 'verify-result', dataset: { ok: String(result.ok), checkpoint: checkpoint.status } },
        h('strong', { text: headline }),
        h('div', { class: 'mono', text: `head seq ${result.head_seq}, head hash ${result.head_hash || '—'}` }),
        h('div', { id: 'verify-checkpoint', text: checkpointText }),
        result.first_broken ? h('div', { text: JSON.stringify(result.first_broken) }) : null));
    }));
    parts.push(h('div', { class: 'toolbar' }, verify, verification));
  }
  replace(container, ...parts, list);
  await refresh();
}

function entryTable(rows) {
  return table(['#', 'Time', 'Actor', 'Action', 'Outcome', 'Target', 'Tenant', 'Details'], rows.map((entry) => h('tr', { dataset: { action: entry.action, seq: String(entry.seq) } },
    h('td', { class: 'num', text: String(entry.seq) }),
    h('td', { text: dateTime(entry.at) }),
    h('td', {}, entry.actor, h('div', { class: 'muted', text: entry.roles })),
    h('td', {}, h('code', { class: 'audit-action', text: entry.action })),
    h('td', {}, status(entry.outcome)),
    h('td', {}, h('code', { text: entry.target })),
    h('td', {}, entry.tenant_id ? h('code', { text: entry.tenant_id }) : '—'),
    h('td', {}, h('div', { class: 'mono details-json', text: JSON.stringify(entry.details) })))));
}
