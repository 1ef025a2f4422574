// Tenants: list and search, create, suspend / reactivate, offboard (with confirmation);
// and the tenant picker the per-tenant screens share.
import { tenantPath, query } from '../api.js';
import { h, replace, busy, empty, problemBox, dateTime, status, table, confirmDialog, pagedList } from '../ui.js';

export async function render(container, context) {
  const { api } = context;
  const plans = await api.get('/admin/plans').then((page) => page.items).catch(() => []);
  const errors = h('div', { id: 'tenant-errors' });
  const list = h('div', { id: 'tenant-list' });
  const search = h('input', { id: 'tenant-search', type: 'search', placeholder: 'Part of the name', maxlength: 100 });
  const refresh = pagedList(list, {
    fetchPage: (cursor) => api.get(`/admin/tenants${query({ q: search.value.trim(), cursor, limit: 50 })}`),
    render: (rows) => tenantTable(rows, context, () => refresh(), errors),
    emptyText: () => (search.value ? 'No tenant matches this search.' : 'No tenants yet. Create the first one above.'),
    moreId: 'tenants-more',
  });

  const name = h('input', { id: 'new-tenant-name', required: true, maxlength: 100 });
  const contact = h('input', { id: 'new-tenant-contact', maxlength: 200, placeholder: 'ops@meal-planner.example' });
  const plan = h('select', { id: 'new-tenant-plan' },
    (plans.length ? plans : [{ id: 'standard', name: 'Standard' }]).map((p) => h('option', { value: p.id, text: `${p.name} (${p.id})`, selected: p.id === 'standard' })));
  const create = h('button', { id: 'create-tenant', type: 'submit', text: 'Create tenant' });
  const createForm = h('form', { class: 'card', id: 'create-tenant-form' },
    h('h2', { text: 'New tenant' }),
    h('div', { class: 'form-grid' },
      h('label', {}, 'Name', name), h('label', {}, 'Contact', contact), h('label', {}, 'Plan', plan)),
    create);
  createForm.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(create, errors, async () => {
      const body = { name: name.value.trim(), plan: plan.value };
      if (contact.value.trim()) body.contact = contact.value.trim();
      const tenant = await api.post('/admin/tenants', body);
      name.value = '';
      contact.value = '';
      errors.append(h('div', { class: 'notice', id: 'tenant-created', text: `Created ${tenant.name} (${tenant.id}).` }));
      context.chooseTenant(tenant.id);
      await refresh();
    });
  });
  const searchForm = h('form', { class: 'toolbar', role: 'search' },
    h('label', { class: 'grow' }, 'Search tenants', search),
    h('button', { type: 'submit', class: 'secondary', text: 'Search' }));
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    refresh();
  });
  replace(container, h('h1', { text: 'Tenants' }), createForm, errors, searchForm, list);
  await refresh();
}

function tenantTable(rows, context, refresh, errors) {
  const { api } = context;
  return table(['Name', 'Plan', 'Status', 'Created', 'Id', ''], rows.map((tenant) => {
    const actions = h('div', { class: 'actions' });
    const act = (label, cls, work) => h('button', {
      class: `small ${cls}`, type: 'button', text: label, dataset: { action: label.toLowerCase() },
      on: { click: (event) => busy(event.currentTarget, errors, work) },
    });
    if (tenant.status !== 'offboarded') {
      actions.append(act('Manage', 'secondary', async () => {
        context.chooseTenant(tenant.id);
        context.go('keys');
      }));
      const next = tenant.status === 'active' ? 'suspended' : 'active';
      actions.append(act(next === 'suspended' ? 'Suspend' : 'Reactivate', 'secondary', async () => {
        await api.patch(tenantPath(tenant.id), { status: next });
        await refresh();
      }));
      if (context.is('platform-admin')) {
        actions.append(act('Offboard', 'danger', async () => {
          const confirmed = await confirmDialog({
            title: `Offboard ${tenant.name}?`,
            message: 'Every API key of the tenant is revoked at once and the tenant can no longer be used. This cannot be undone.',
            confirmLabel: 'Offboard',
            typed: tenant.name,
          });
          if (!confirmed) return;
          await api.del(tenantPath(tenant.id));
          await refresh();
        }));
      }
    }
    return h('tr', { dataset: { tenantId: tenant.id } },
      h('td', {}, h('strong', { class: 'tenant-name', text: tenant.name }), tenant.contact ? h('div', { class: 'muted', text: tenant.contact }) : null),
      h('td', { text: tenant.plan }),
      h('td', {}, status(tenant.status)),
      h('td', { text: dateTime(tenant.created_at) }),
      h('td', {}, h('code', { text: tenant.id })),
      h('td', {}, actions));
  }));
}

/**
 * The tenant a per-tenant screen works on. A tenant-manager's is fixed by its token;
 * others choose one (remembered for this session). Calls `body(tenantId, container)`.
 */
export async function withTenant(container, context, title, body) {
  const heading = h('h1', { text: title });
  const content = h('div', { class: 'tenant-content' });
  if (context.claims.tenantId) {
    const name = h('span', { class: 'muted', text: '' });
    replace(container, h('div', { class: 'toolbar' }, heading, name), content);
    context.api.get(tenantPath(context.claims.tenantId))
      .then((tenant) => { name.textContent = `${tenant.name} · ${tenant.plan} · ${tenant.status}`; })
      .catch(() => {});
    await body(context.claims.tenantId, content);
    return;
  }
  const picker = h('select', { id: 'tenant-picker' });
  replace(container, heading, h('div', { class: 'tenant-picker' }, h('label', { class: 'inline' }, 'Tenant', picker)), content);
  let page;
  try {
    page = await context.api.get('/admin/tenants?limit=100');
  } catch (error) {
    replace(content, problemBox(error));
    return;
  }
  const usable = page.items.filter((t) => t.status !== 'offboarded');
  if (usable.length === 0) {
    replace(content, empty('No tenants yet: create one on the Tenants screen.'));
    return;
  }
  let chosen = context.tenantId;
  if (!usable.some((t) => t.id === chosen)) chosen = usable[0].id;
  context.chooseTenant(chosen);
  for (const tenant of usable) {
    picker.append(h('option', { value: tenant.id, text: `${tenant.name} (${tenant.status})`, selected: tenant.id === chosen }));
  }
  picker.addEventListener('change', () => {
    context.chooseTenant(picker.value);
    body(picker.value, content);
  });
  await body(chosen, content);
}

