// What the safety checks withheld (docs/safety.md). On the usage screen: how many texts a
// tenant's month had blocked, and for which codes (platform-admin and the tenant's own
// manager; never text). The review screen (platform-admin): the blocked generations one
// by one, each with its withheld text, findings and client profile on request.
import { tenantPath, query } from '../api.js';
import { h, replace, busy, load, empty, number, dateTime, table, currentMonth, pagedList } from '../ui.js';
import { withTenant } from './tenants.js';

const PAGE = 100;
// The usage screen counts at most this many pages (10,000 blocked texts in a month).
const MAX_PAGES = 100;

function blockedPath(tenantId, period, cursor, limit = PAGE) {
  return tenantPath(tenantId, `/blocked-generations${query({ period, limit, cursor })}`);
}

/** Every blocked generation of the month, counted: `{ count, codes, complete }`. */
async function countBlocked(api, tenantId, period) {
  const codes = {};
  let count = 0;
  let cursor = null;
  for (let pages = 0; pages < MAX_PAGES; pages += 1) {
    const page = await api.get(blockedPath(tenantId, period, cursor));
    count += page.items.length;
    for (const [code, n] of Object.entries(page.codes)) codes[code] = (codes[code] || 0) + n;
    cursor = page.next_cursor;
    if (!cursor) return { count, codes, complete: true };
  }
  return { count, codes, complete: false };
}

function codeChips(codes) {
  return h('span', { class: 'codes' }, codes.map((code) => h('code', { class: 'finding-code', dataset: { code }, text: code })));
}

/** The usage screen's safety section for one tenant and month. */
export function blockedSummary(container, context, tenantId, period) {
  return load(container, () => countBlocked(context.api, tenantId, period), ({ count, codes, complete }) => {
    const heading = h('h2', { text: `Safety, ${period}` });
    if (count === 0) {
      return [heading, empty('No generation was blocked by the safety checks this month.')];
    }
    const rows = Object.entries(codes).sort((a, b) => b[1] - a[1]).map(([code, n]) => h('tr', { dataset: { code } },
      h('td', {}, h('code', { text: code })),
      h('td', { class: 'num', text: number(n) })));
    return [
      heading,
      h('div', { class: 'tiles' },
        h('div', { class: 'tile', id: 'usage-blocked' },
          h('div', { class: 'label', text: 'Blocked generations' }),
          h('div', { class: 'value', text: `${number(count)}${complete ? '' : '+'}` }))),
      h('p', { class: 'muted', text: 'Withheld texts are billed (the model was called) and kept for review by a platform administrator; this list never shows them.' }),
      table(['Finding code', ['Texts', 'num']], rows),
    ];
  });
}

/** The platform-admin's review list of blocked texts. */
export function renderReview(container, context) {
  return withTenant(container, context, 'Safety review', (tenantId, content) => {
    const period = h('input', { id: 'review-period', type: 'month', value: currentMonth(), required: true });
    const list = h('div', { id: 'review-list' });
    const errors = h('div', { id: 'review-errors' });
    const refresh = pagedList(list, {
      fetchPage: (cursor) => context.api.get(blockedPath(tenantId, period.value, cursor, 50)),
      render: (items) => table(['Blocked', 'Dietitian', 'Kind', 'Codes', ''], items.map((item) => reviewRow(item, tenantId, context, errors))),
      emptyText: () => `No generation was blocked in ${period.value}.`,
      moreId: 'review-more',
    });
    const form = h('form', { class: 'toolbar' }, h('label', {}, 'Period', period), h('button', { type: 'submit', class: 'secondary', text: 'Show' }));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      refresh();
    });
    replace(content,
      h('p', { class: 'muted', text: 'Texts the safety checks withheld from the Meal Planner. Reading one is logged with your name.' }),
      form, errors, list);
    return refresh();
  });
}

function reviewRow(item, tenantId, context, errors) {
  const panel = h('td', { colspan: 5, class: 'review-panel' });
  const panelRow = h('tr', { class: 'review', hidden: true }, panel);
  const read = h('button', {
    class: 'secondary small', type: 'button', text: 'Read text',
    on: {
      click: (event) => busy(event.currentTarget, errors, async () => {
        if (!panelRow.hidden) {
          panelRow.hidden = true;
          read.textContent = 'Read text';
          return;
        }
        const generation = await context.api.get(tenantPath(tenantId, `/generations/${encodeURIComponent(item.generation_id)}`));
        replace(panel, reviewPanel(generation));
        panelRow.hidden = false;
        read.textContent = 'Hide text';
      }),
    },
  });
  return [
    h('tr', { dataset: { generationId: item.generation_id } },
      h('td', { text: dateTime(item.created_at) }),
      h('td', {}, h('code', { text: item.dietitian_id })),
      h('td', { text: item.kind.replaceAll('_', ' ') }),
      h('td', {}, codeChips(item.codes)),
      h('td', {}, read)),
    panelRow,
  ];
}

function reviewPanel(generation) {
  const findings = generation.safety ? generation.safety.findings : [];
  return h('div', { class: 'review-body' },
    h('h3', { text: 'Withheld text' }),
    h('pre', { class: 'withheld', text: generation.content }),
    h('h3', { text: 'Findings' }),
    table(['Code', 'Severity', 'Message', 'Excerpt'], findings.map((f) => h('tr', {},
      h('td', {}, h('code', { text: f.code })),
      h('td', { text: f.severity }),
      h('td', { text: f.message }),
      h('td', {}, f.excerpt ? h('q', { text: f.excerpt }) : '—')))),
    h('p', { class: 'muted' },
      `Model ${generation.model} · ${dateTime(generation.created_at)} · client profile: `,
      h('code', { text: generation.client ? JSON.stringify(generation.client) : 'none' })));
}
