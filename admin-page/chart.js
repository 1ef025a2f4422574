// A bar chart of daily tokens (prompt and completion stacked) with the day's cost as a
// line, drawn as SVG nodes (no library, no inline style: colours come from style.css).
import { h, money, number } from './ui.js';

const WIDTH = 960;
const HEIGHT = 280;
const PAD = { left: 64, right: 72, top: 16, bottom: 36 };

function niceMax(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

export function dailyChart(days, currency) {
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const maxTokens = niceMax(Math.max(...days.map((d) => d.prompt_tokens + d.completion_tokens), 0));
  const maxCost = niceMax(Math.max(...days.map((d) => d.amount_micros), 0));
  const slot = plotWidth / Math.max(days.length, 1);
  const barWidth = Math.max(slot * 0.7, 1);
  const y = (tokens) => PAD.top + plotHeight - (tokens / maxTokens) * plotHeight;
  const yCost = (micros) => PAD.top + plotHeight - (micros / maxCost) * plotHeight;
  const svg = h('svg:svg', {
    class: 'chart', id: 'usage-chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img',
    'aria-label': 'Tokens and cost per day',
  });
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    const lineY = PAD.top + plotHeight - fraction * plotHeight;
    svg.append(h('svg:line', { class: 'axis', x1: PAD.left, x2: WIDTH - PAD.right, y1: lineY, y2: lineY }));
    svg.append(h('svg:text', { x: PAD.left - 6, y: lineY + 4, 'text-anchor': 'end', text: number(Math.round(maxTokens * fraction)) }));
    svg.append(h('svg:text', { x: WIDTH - PAD.right + 6, y: lineY + 4, text: money(maxCost * fraction, currency) }));
  }
  const points = [];
  days.forEach((day, i) => {
    const x = PAD.left + i * slot + (slot - barWidth) / 2;
    const promptTop = y(day.prompt_tokens);
    const totalTop = y(day.prompt_tokens + day.completion_tokens);
    const title = `${day.date}: ${number(day.prompt_tokens)} prompt + ${number(day.completion_tokens)} completion tokens, ${day.generations} generations, ${money(day.amount_micros, currency)}`;
    const group = h('svg:g', { class: 'day', 'data-date': day.date }, h('svg:title', { text: title }));
    group.append(h('svg:rect', { class: 'prompt', x, width: barWidth, y: promptTop, height: PAD.top + plotHeight - promptTop }));
    group.append(h('svg:rect', { class: 'completion', x, width: barWidth, y: totalTop, height: promptTop - totalTop }));
    svg.append(group);
    points.push([x + barWidth / 2, yCost(day.amount_micros)]);
    if (i % 5 === 0 || i === days.length - 1) {
      svg.append(h('svg:text', { x: x + barWidth / 2, y: HEIGHT - PAD.bottom + 16, 'text-anchor': 'middle', text: day.date.slice(8) }));
    }
  });
  if (points.length) {
    svg.append(h('svg:polyline', { class: 'cost', points: points.map((p) => p.join(',')).join(' ') }));
    for (const [cx, cy] of points) svg.append(h('svg:circle', { class: 'cost-dot', cx, cy, r: 2.5 }));
  }
  const legend = h('div', { class: 'legend' },
    h('span', {}, h('span', { class: 'swatch prompt' }), 'prompt tokens'),
    h('span', {}, h('span', { class: 'swatch completion' }), 'completion tokens'),
    h('span', {}, h('span', { class: 'swatch cost' }), `cost (${currency}, right axis)`));
  return [svg, legend];
}
