// A bar chart of daily tokens (prompt and completion stacked) with the day's cost as a
// line, drawn as SVG nodes (no library, no inline style: colours come from style.css).
import { h, money, number } from './ui.js';

const WIDTH = 960;
const HEIGHT = 280;
const PAD = { left: 64, right: 72, top: 16, bottom: 36 };

// Round ticks: a step of 1, 2 or 5 times a power of ten (never finer than `unit`), at
// most five intervals up to the first multiple of the step at or above the largest value.
export function niceTicks(value, unit = 1) {
  const top = Math.max(value, unit);
  let step = unit;
  for (let magnitude = unit; ; magnitude *= 10) {
    const found = [1, 2, 5].map((m) => m * magnitude).find((s) => Math.ceil(top / s) <= 5);
    if (found) { step = found; break; }
  }
  const intervals = Math.max(Math.ceil(top / step), 1);
  return Array.from({ length: intervals + 1 }, (_, i) => i * step);
}

// Digits after the decimal point that tell the ticks of a money axis apart.
function moneyDigits(stepMicros) {
  const amount = stepMicros / 1e6;
  return amount >= 0.01 ? 2 : Math.min(6, Math.ceil(-Math.log10(amount) - 1e-9));
}

function moneyTick(micros, digits, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(micros / 1e6);
  } catch {
    return `${(micros / 1e6).toFixed(digits)} ${currency}`;
  }
}

export function dailyChart(days, currency) {
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const tokenTicks = niceTicks(Math.max(...days.map((d) => d.prompt_tokens + d.completion_tokens), 0));
  // Costs are whole micro-units: no tick finer than one.
  const costTicks = niceTicks(Math.max(...days.map((d) => d.amount_micros), 0), 1);
  const maxTokens = tokenTicks[tokenTicks.length - 1];
  const maxCost = costTicks[costTicks.length - 1];
  const slot = plotWidth / Math.max(days.length, 1);
  const barWidth = Math.max(slot * 0.7, 1);
  const y = (tokens) => PAD.top + plotHeight - (tokens / maxTokens) * plotHeight;
  const yCost = (micros) => PAD.top + plotHeight - (micros / maxCost) * plotHeight;
  const svg = h('svg:svg', {
    class: 'chart', id: 'usage-chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img',
    'aria-label': 'Tokens and cost per day',
  });
  const axis = h('svg:g', { class: 'ticks' });
  tokenTicks.forEach((tokens) => {
    const lineY = y(tokens);
    axis.append(h('svg:line', { class: 'axis', x1: PAD.left, x2: WIDTH - PAD.right, y1: lineY, y2: lineY }));
    axis.append(h('svg:text', { class: 'tick-tokens', x: PAD.left - 6, y: lineY + 4, 'text-anchor': 'end', text: number(tokens) }));
  });
  const digits = moneyDigits(costTicks[1] - costTicks[0]);
  costTicks.forEach((micros) => {
    axis.append(h('svg:line', { class: 'axis', x1: WIDTH - PAD.right, x2: WIDTH - PAD.right + 4, y1: yCost(micros), y2: yCost(micros) }));
    axis.append(h('svg:text', { class: 'tick-cost', x: WIDTH - PAD.right + 6, y: yCost(micros) + 4, text: moneyTick(micros, digits, currency) }));
  });
  svg.append(axis);
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
