import type { Row } from '../rows';
import { formatValue } from './format';

const WIDTH = 1000;
const LABEL_WIDTH = 360;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_WIDTH = 400;
const ROW_HEIGHT = 30;
const TOP = 60;
const AXIS_MIN = 0.1;
const TICKS = [0.1, 0.3, 1, 3, 10, 30, 100, 300];

/**
 * How many times better ours is than the baseline, whichever way "better" points:
 * a throughput ratio as it is, a time or a size ratio turned over. Above 1, ours wins.
 */
function advantage(row: Row, ratio: number): number {
  return row.better === 'higher' ? ratio : 1 / ratio;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * One bar per row on a log scale centred on 1x (as good as the baseline), the issue's
 * target as a tick on the bar, the medians in words beside it. Plain SVG, no library.
 */
export function svgChart(rows: readonly Row[], title: string): string {
  const top = Math.max(10, ...rows.map((row) => advantage(row, row.medianRatio)));
  const axisMax = TICKS.find((tick) => tick >= top) ?? top;
  const x = (value: number): number => {
    const clamped = Math.min(axisMax, Math.max(AXIS_MIN, value));
    return PLOT_LEFT + (PLOT_WIDTH * Math.log10(clamped / AXIS_MIN)) / Math.log10(axisMax / AXIS_MIN);
  };
  const height = TOP + rows.length * ROW_HEIGHT + 50;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="42" fill="#555">Times better than the baseline (log scale; right of 1x, ours wins). Tick: the target (a ratio). Medians of alternated runs.</text>`,
  ];
  for (const tick of TICKS.filter((t) => t <= axisMax)) {
    const tx = x(tick);
    parts.push(
      `<line x1="${tx}" y1="${TOP - 5}" x2="${tx}" y2="${TOP + rows.length * ROW_HEIGHT}" stroke="${tick === 1 ? '#333' : '#ddd'}"/>`,
      `<text x="${tx}" y="${TOP + rows.length * ROW_HEIGHT + 16}" text-anchor="middle" fill="#555">${tick}x</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = TOP + i * ROW_HEIGHT;
    const value = advantage(row, row.medianRatio);
    const from = Math.min(x(1), x(value));
    const width = Math.max(1, Math.abs(x(value) - x(1)));
    const colour = row.met === false ? '#d9534f' : value >= 1 ? '#2e7d32' : '#f0ad4e';
    parts.push(
      `<text x="${LABEL_WIDTH}" y="${y + 19}" text-anchor="end">${escape(row.label)}</text>`,
      `<rect x="${from}" y="${y + 6}" width="${width}" height="${ROW_HEIGHT - 12}" fill="${colour}"/>`,
    );
    // A bound on our own value (a limit) has no place on this scale of ratios.
    if (row.target !== null && 'ratio' in row.target) {
      const tx = x(advantage(row, row.target.ratio));
      parts.push(`<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + ROW_HEIGHT - 2}" stroke="black" stroke-width="2"/>`);
    }
    const words = `${value.toFixed(value < 10 ? 2 : 1)}x: ${formatValue(row.medianOurs, row.unit)} vs ${formatValue(row.medianBaseline, row.unit)}`;
    parts.push(`<text x="${PLOT_LEFT + PLOT_WIDTH + 10}" y="${y + 19}">${escape(words)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
