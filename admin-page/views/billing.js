// Usage for a period (totals, a chart of daily tokens and cost, per model, what the
// safety checks blocked) and invoices with their lines; a platform-admin may close a
// period.
import { tenantPath, query } from '../api.js';
import { h, replace, busy, load, empty, money, number, dateTime, table, currentMonth, confirmDialog } from '../ui.js';
import { dailyChart } from '../chart.js';
import { withTenant } from './tenants.js';
import { blockedSummary } from './safety.js';

export function renderUsage(container, context) {
  return withTenant(container, context, 'Usage', (tenantId, content) => {
    const period = h('input', { id: 'usage-period', type: 'month', value: currentMonth(), required: true });
    const report = h('div', { id: 'usage-report' });
    const safety = h('div', { id: 'usage-safety' });
    const show = () => Promise.all([
      load(report, () => context.api.get(tenantPath(tenantId, `/usage${query({ period: period.value })}`)), usageReport),
      blockedSummary(safety, context, tenantId, period.value),
    ]);
    const form = h('form', { class: 'toolbar' }, h('label', {}, 'Period', period), h('button', { type: 'submit', class: 'secondary', text: 'Show' }));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      show();
    });
    replace(content, form, report, safety);
    return show();
  });
}

function tile(label, value, id) {
  return h('div', { class: 'tile', id }, h('div', { class: 'label', text: label }), h('div', { class: 'value', text: value }));
}

// The highest budget alert raised this period, and the thresholds still ahead.
function budgetAlertTile(alert) {
  const ahead = alert.thresholds.filter((t) => !alert.raised.includes(t));
  const tileNode = tile('Budget alert', alert.level === null ? 'none' : `${alert.level}% reached`, 'usage-budget-alert');
  tileNode.dataset.level = alert.level === null ? '' : String(alert.level);
  if (alert.level !== null) tileNode.classList.add(alert.level >= 100 ? 'alert-critical' : 'alert-warning');
  tileNode.append(h('div', { class: 'label', text: ahead.length ? `next at ${ahead.map((t) => `${t}%`).join(', ')}` : 'every threshold raised' }));
  return tileNode;
}

function usageReport(usage) {
  const c = usage.currency;
  const total = usage.total;
  const parts = [
    h('div', { class: 'tiles' },
      tile('Generations', number(total.generations), 'usage-generations'),
      tile('Tokens', number(total.prompt_tokens + total.completion_tokens), 'usage-tokens'),
      tile('Cost', money(total.amount_micros, c), 'usage-cost'),
      tile('Budget', money(usage.budget_micros, c), 'usage-budget'),
      tile('Reserved now', money(usage.reserved_micros, c), 'usage-reserved'),
      tile('Remaining', money(usage.remaining_micros, c), 'usage-remaining'),
      budgetAlertTile(usage.budget_alert)),
    h('h2', { text: `Per day, ${usage.period}` }),
    dailyChart(usage.by_day, c),
  ];
  if (total.generations === 0) {
    parts.push(empty('No generations in this period yet.'));
  } else {
    parts.push(h('h2', { text: 'Per model' }), table(['Model', ['Generations', 'num'], ['Prompt tokens', 'num'], ['Completion tokens', 'num'], ['Cost', 'num']],
      usage.by_model.map((m) => h('tr', {},
        h('td', {}, h('code', { text: m.model })),
        h('td', { class: 'num', text: number(m.generations) }),
        h('td', { class: 'num', text: number(m.prompt_tokens) }),
        h('td', { class: 'num', text: number(m.completion_tokens) }),
        h('td', { class: 'num', text: money(m.amount_micros, c) })))));
    if (usage.by_dietitian.length) {
      parts.push(h('h2', { text: 'Per dietitian' }),
        h('p', { class: 'muted', text: "Style score: how close the texts were to the dietitian's own samples (1.0 reads like them; — without a profile)." }),
        table(['Dietitian', ['Generations', 'num'], ['Cost', 'num'], ['Style score', 'num']],
          usage.by_dietitian.map((d) => h('tr', { dataset: { dietitianId: d.dietitian_id } },
            h('td', {}, h('code', { text: d.dietitian_id })),
            h('td', { class: 'num', text: number(d.generations) }),
            h('td', { class: 'num', text: money(d.amount_micros, c) }),
            h('td', { class: 'num style-score', text: d.style_score_mean === null ? '—' : d.style_score_mean.toFixed(2) })))));
    }
  }
  return parts;
}

export function renderInvoices(container, context) {
  return withTenant(container, context, 'Invoices', (tenantId, content) => {
    const list = h('div', { id: 'invoice-list' });
    const errors = h('div', { id: 'invoice-errors' });
    const refresh = () => load(list, () => context.api.get(tenantPath(tenantId, '/invoices')), (page) => (
      page.items.length ? page.items.map((invoice) => invoiceCard(invoice, context, errors)) : empty('No invoices yet: a period is invoiced after it is closed (the 1st of each month, 00:15 UTC).')
    ));
    const parts = [errors];
    if (context.is('platform-admin')) {
      const period = h('input', { id: 'close-period', type: 'month', required: true, value: previousMonth() });
      const close = h('button', { id: 'close-period-button', type: 'submit', class: 'secondary', text: 'Close period' });
      const form = h('form', { class: 'toolbar card' },
        h('label', {}, 'Close a finished period for every tenant', period), close);
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        busy(close, errors, async () => {
          const confirmed = await confirmDialog({
            title: `Close ${period.value}?`,
            message: 'Issues an invoice to every tenant for the period. Invoices are final.',
            confirmLabel: 'Close period',
            danger: false,
          });
          if (!confirmed) return;
          const report = await context.api.post(`/admin/billing/periods/${encodeURIComponent(period.value)}/close`);
          errors.append(h('div', { class: 'notice', text: `Closed ${report.period}: ${report.issued.length} invoices issued, ${report.already_invoiced} already invoiced.` }));
          await refresh();
        });
      });
      parts.unshift(form);
    }
    replace(content, ...parts, list);
    return refresh();
  });
}

function previousMonth() {
  const now = new Date();
  const date = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

function invoiceCard(invoice, context, errors) {
  const c = invoice.currency;
  const download = h('button', {
    class: 'secondary small', type: 'button', text: 'Download CSV',
    on: {
      click: (event) => {
        event.preventDefault();
        busy(event.currentTarget, errors, async () => {
          const csv = await context.api.text(`/admin/invoices/${encodeURIComponent(invoice.id)}?format=csv`);
          const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
          const link = h('a', { href: url, download: `${invoice.id}.csv` });
          document.body.append(link);
          link.click();
          link.remove();
          setTimeout(() => URL.revokeObjectURL(url), 10000);
        });
      },
    },
  });
  return h('details', { class: 'invoice', dataset: { invoiceId: invoice.id } },
    h('summary', {}, h('strong', { text: invoice.period }), h('code', { text: invoice.id }),
      h('span', { text: money(invoice.total_micros, c) }), h('span', { class: 'muted', text: `issued ${dateTime(invoice.issued_at)}` })),
    table(['Line', 'Model', ['Quantity', 'num'], ['Amount', 'num']], invoice.lines.map((line) => h('tr', {},
      h('td', { text: line.description }),
      h('td', { text: line.model || '—' }),
      h('td', { class: 'num', text: number(line.quantity) }),
      h('td', { class: 'num', text: money(line.amount_micros, c) })))),
    h('p', {}, h('strong', { text: `Total ${money(invoice.total_micros, c)}` }), ` · plan ${invoice.plan_id} · ${number(invoice.generations)} generations `, download));
}
