// System settings (platform-admin): the generation kill switch, default model, cap.
import { h, replace, busy, confirmDialog } from '../ui.js';

export async function render(container, context) {
  const { api } = context;
  const current = await api.get('/admin/settings');
  const enabled = h('input', { id: 'system-generation-enabled', type: 'checkbox', checked: current.generation_enabled });
  const model = h('input', { id: 'system-default-model', maxlength: 100, value: current.default_model || '', placeholder: 'deployment default' });
  const cap = h('input', { id: 'system-cap', type: 'number', min: 1, max: 2000, value: String(current.max_tokens_cap) });
  const errors = h('div', { id: 'system-errors' });
  const save = h('button', { id: 'save-system', type: 'submit', text: 'Save system settings' });
  const form = h('form', { class: 'card' },
    h('label', { class: 'choice' }, enabled, 'Generation enabled (clear it to stop every generation at once)'),
    h('div', { class: 'form-grid' }, h('label', {}, 'Default model', model), h('label', {}, 'max_tokens cap', cap)),
    save, errors);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, errors, async () => {
      if (!enabled.checked && current.generation_enabled) {
        const confirmed = await confirmDialog({
          title: 'Stop every generation?',
          message: 'All tenants get an error for new generations until generation is enabled again.',
          confirmLabel: 'Stop generation',
        });
        if (!confirmed) return;
      }
      const saved = await api.put('/admin/settings', {
        generation_enabled: enabled.checked,
        default_model: model.value.trim() || null,
        max_tokens_cap: Number(cap.value),
      });
      current.generation_enabled = saved.generation_enabled;
      errors.append(h('div', { class: 'notice', text: 'System settings saved.' }));
    });
  });
  replace(container, h('h1', { text: 'System settings' }), form);
}
