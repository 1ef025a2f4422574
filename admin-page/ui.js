// DOM helpers. Every piece of data reaches the page as text (textContent, attributes),
// never as HTML, so a tenant called "<img onerror=…>" is shown, not run.

export function h(tag, props = {}, ...children) {
  const element = tag.includes(':')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.split(':')[1])
    : document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'on') {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (name === 'class') {
      element.setAttribute('class', value);
    } else if (name === 'text') {
      element.textContent = value;
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name in element && !tag.includes(':') && typeof value !== 'string') {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(container, ...children) {
  container.replaceChildren();
  append(container, children);
}

export function loading(text = 'Loading…') {
  return h('div', { class: 'state loading', role: 'status', text });
}

export function empty(text) {
  return h('div', { class: 'state empty', dataset: { state: 'empty' }, text });
}

/** An error as the user should see it: the problem's title, detail and references. */
export function problemBox(error) {
  const problem = error && error.problem ? error.problem : { title: 'Error', detail: String(error && error.message ? error.message : error) };
  const facts = [];
  if (problem.status) facts.push(['status', String(problem.status)]);
  if (problem.type) facts.push(['type', problem.type]);
  if (problem.request_id) facts.push(['request id', problem.request_id]);
  if (problem.retry_after) facts.push(['retry after', `${problem.retry_after} s`]);
  return h('div', { class: 'problem', role: 'alert', dataset: { problemType: problem.type || '' } },
    h('strong', { text: problem.title || 'Error' }),
    h('span', { class: 'detail', text: problem.detail || '' }),
    facts.length ? h('dl', {}, facts.map(([name, value]) => [h('dt', { text: name }), h('dd', { text: value })])) : null);
}

/** Runs `work` with `button` disabled; shows a problem in `errors` if it fails. */
export async function busy(button, errors, work) {
  if (button) button.disabled = true;
  if (errors) errors.replaceChildren();
  try {
    return await work();
  } catch (error) {
    if (errors) errors.append(problemBox(error));
    else throw error;
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Loads data into `container`: a loading state, then what `render` builds, or the error. */
export async function load(container, fetcher, render) {
  replace(container, loading());
  try {
    const data = await fetcher();
    replace(container, render(data));
  } catch (error) {
    replace(container, problemBox(error));
  }
}

/**
 * A cursor-paged list in `container`: `fetchPage(cursor)` returns `{items, next_cursor}`,
 * `render(rows)` draws every row loaded so far, `emptyText()` says why there are none.
 * Returns `refresh(more)`: from the first page, or (more = true) the next one appended.
 */
export function pagedList(container, { fetchPage, render, emptyText, moreId }) {
  let cursor = null;
  let rows = [];
  async function refresh(more = false) {
    if (!more) {
      cursor = null;
      rows = [];
    }
    replace(container, loading());
    try {
      const page = await fetchPage(cursor);
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      replace(container,
        rows.length ? render(rows) : empty(emptyText()),
        cursor ? h('button', { class: 'secondary', type: 'button', id: moreId, text: 'Load more', on: { click: () => refresh(true) } }) : null);
    } catch (error) {
      replace(container, problemBox(error));
    }
  }
  return refresh;
}

export function dateTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Micro-units of a currency as money (1 USD = 1,000,000 micros). */
export function money(micros, currency = 'USD') {
  const amount = Number(micros || 0) / 1e6;
  // Token costs are fractions of a cent: show enough digits to tell them apart.
  const digits = amount === 0 || Math.abs(amount) >= 1 ? 2 : Math.abs(amount) >= 0.01 ? 4 : 6;
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: digits }).format(amount);
  } catch {
    return `${amount.toFixed(digits)} ${currency}`;
  }
}

export function number(value) {
  return new Intl.NumberFormat().format(Number(value || 0));
}

export function status(text) {
  return h('span', { class: `status ${text}`, text });
}

/**
 * A modal confirmation. With `typed`, the user must type that text (offboarding a tenant
 * asks for its name). Resolves true only on an explicit confirm.
 */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', typed, danger = true, input }) {
  return new Promise((resolve) => {
    const field = typed || input
      ? h('input', { id: 'confirm-input', autocomplete: 'off', value: input ? input.value : '', type: input ? input.type || 'text' : 'text' })
      : null;
    const ok = h('button', { id: 'confirm-ok', class: danger ? 'danger' : '', type: 'submit', text: confirmLabel, disabled: Boolean(typed) });
    const cancel = h('button', { class: 'secondary', type: 'button', text: 'Cancel' });
    const dialog = h('dialog', { id: 'confirm-dialog' },
      h('form', { method: 'dialog' },
        h('h2', { text: title }),
        h('p', { text: message }),
        typed ? h('label', {}, `Type ${typed} to confirm`, field) : null,
        input ? h('label', {}, input.label, field) : null,
        h('div', { class: 'actions' }, cancel, ok)));
    if (typed) field.addEventListener('input', () => { ok.disabled = field.value !== typed; });
    let answered = false;
    const finish = (value) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', () => finish(false));
    dialog.querySelector('form').addEventListener('submit', (event) => {
      event.preventDefault();
      if (typed && field.value !== typed) return;
      finish(input ? { value: field.value } : true);
    });
    document.body.append(dialog);
    dialog.showModal();
    (field || ok).focus();
  });
}

export function copyButton(text, label = 'Copy') {
  const button = h('button', { class: 'secondary small', type: 'button', text: label });
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select the text and copy it';
    }
  });
  return button;
}

export function table(headers, rows) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((header) => {
      const [text, cls] = Array.isArray(header) ? header : [header, ''];
      return h('th', { class: cls || null, text });
    }))),
    h('tbody', {}, rows));
}

export function currentMonth() {
  const now = new Date();
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
}
