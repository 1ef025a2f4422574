// Tenant settings: rate limit, monthly budget, allowed kinds, model, max_tokens cap,
// retention. Empty fields fall back to the plan's and the system's defaults.
import { tenantPath } from '../api.js';
import { h, replace, busy, problemBox, money, loading } from '../ui.js';
import { withTenant } from './tenants.js';

const KINDS = ['diet_introduction', 'meal_plan_summary', 'nutrition_tips', 'shopping_list_notes'];

export function render(container, context) {
  return withTenant(container, context, 'Tenant settings', (tenantId, content) => renderSettings(tenantId, content, context));
}

function optionalInt(input, scale = 1) {
  const text = input.value.trim();
  if (text === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? Math.round(value * scale) : text;
}

async function renderSettings(tenantId, content, context) {
  const { api } = context;
  const editable = context.is('platform-admin') || context.is('tenant-manager');
  replace(content, loading());
  let view;
  try {
    view = await api.get(tenantPath(tenantId, '/settings'));
  } catch (error) {
    replace(content, problemBox(error));
    return;
  }
  const s = view.settings;
  const field = (id, value, attrs = {}) => h('input', { id, value: value === null || value === undefined ? '' : String(value), disabled: !editable, ...attrs });
  const rpm = field('setting-rpm', s.requests_per_minute, { type: 'number', min: 1, max: 100000, placeholder: `plan: ${view.plan_limits.requests_per_minute}` });
  const budget = field('setting-budget', s.monthly_budget_micros === null ? null : s.monthly_budget_micros / 1e6,
    { type: 'number', min: 0, step: '0.01', placeholder: `plan: ${money(view.plan_limits.monthly_budget_micros)}` });
  const model = field('setting-model', s.model, { maxlength: 100, placeholder: 'system default' });
  const cap = field('setting-cap', s.max_tokens_cap, { type: 'number', min: 1, max: 2000, placeholder: 'system default' });
  const retention = field('setting-retention', s.retention_days, { type: 'number', min: 1, max: 3650, placeholder: 'keep' });
  const alerts = field('setting-budget-alerts', (s.budget_alert_thresholds || []).join(', '), { placeholder: '50, 80, 100', pattern: '\\s*\\d{1,3}(\\s*,\\s*\\d{1,3}){0,4}\\s*' });
  const disclaimer = h('textarea', { id: 'setting-disclaimer', maxlength: 500, rows: 2, disabled: !editable, placeholder: 'platform default' });
  disclaimer.value = s.disclaimer || '';
  const allKinds = s.allowed_kinds === null;
  const kindBoxes = KINDS.map((kind) => h('input', { type: 'checkbox', value: kind, checked: allKinds || s.allowed_kinds.includes(kind), disabled: !editable }));
  const errors = h('div', { id: 'settings-errors' });
  const save = h('button', { id: 'save-settings', type: 'submit', text: 'Save settings', hidden: !editable });
  const form = h('form', { class: 'card', id: 'settings-form' },
    h('p', { class: 'muted', text: `Plan ${view.plan}: ${view.plan_limits.requests_per_minute} requests/min, budget ${money(view.plan_limits.monthly_budget_micros)} a month. A tenant-manager may only tighten these.` }),
    h('div', { class: 'form-grid' },
      h('label', {}, 'Rate limit (requests per minute)', rpm),
      h('label', {}, 'Monthly budget (currency units)', budget),
      h('label', {}, 'Model', model),
      h('label', {}, 'max_tokens cap', cap),
      h('label', {}, 'Retention (days)', retention),
      h('label', {}, 'Budget alerts at (% of the budget, rising)', alerts)),
    h('label', {}, 'Disclaimer every text ends with', disclaimer),
    h('fieldset', {}, h('legend', { text: 'Allowed kinds' }),
      KINDS.map((kind, i) => h('label', { class: 'choice' }, kindBoxes[i], kind))),
    editable ? null : h('p', { class: 'muted', text: 'Your role may read these settings but not change them.' }),
    save, errors);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, errors, async () => {
      const chosen = kindBoxes.filter((box) => box.checked).map((box) => box.value);
      const body = {
        requests_per_minute: optionalInt(rpm),
        monthly_budget_micros: optionalInt(budget, 1e6),
        allowed_kinds: chosen.length === KINDS.length ? null : chosen,
        model: model.value.trim() || null,
        max_tokens_cap: optionalInt(cap),
        retention_days: optionalInt(retention),
        disclaimer: disclaimer.value.trim() || null,
        budget_alert_thresholds: alerts.value.trim() ? alerts.value.split(',').map((t) => Number(t.trim())) : null,
      };
      await api.put(tenantPath(tenantId, '/settings'), body);
      errors.append(h('div', { class: 'notice', id: 'settings-saved', text: 'Settings saved.' }));
    });
  });
  replace(content, form);
}
