import type { Row } from '../rows';
import { formatDelivery, formatRatio, formatTarget, formatValue } from './format';

/** The results as a Markdown table: readable in a terminal, pasted as is into BENCHMARKS.md. */
export function markdownTable(rows: readonly Row[]): string {
  const header = ['Scenario', 'Ours', 'Baseline', 'Median ratio', 'Target', 'Met', 'Delivered / expected'];
  const lines = rows.map((row) => [
    row.label,
    formatValue(row.medianOurs, row.unit),
    `${formatValue(row.medianBaseline, row.unit)} (${row.against})`,
    formatRatio(row.medianRatio),
    formatTarget(row),
    row.met === null ? '-' : row.met ? 'yes' : '**no**',
    formatDelivery(row),
  ]);
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
