import type { Row, Unit } from '../rows';

/** A value with its unit, short enough for a table cell or a chart label. */
export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'deliveries/s':
      return value >= 1e6 ? `${(value / 1e6).toFixed(2)}M/s` : `${(value / 1e3).toFixed(1)}k/s`;
    case 'messages/s':
    case 'handshakes/s':
      return `${Math.round(value)}/s`;
    case 'ms':
      return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
    case 's':
      return `${value.toFixed(value < 10 ? 2 : 1)} s`;
    case 'bytes':
      return `${(value / 1024).toFixed(1)} KiB`;
    case 'µs':
      return `${value.toFixed(value < 10 ? 2 : 1)} µs`;
    case 'core':
      return `${(value * 100).toFixed(1)}% of a core`;
  }
}

export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  return `${ratio.toFixed(ratio < 10 ? 2 : 1)}x`;
}

export function formatTarget(row: Row): string {
  const { target } = row;
  if (target === null) return '-';
  if ('ratio' in target) return `${row.better === 'higher' ? '>=' : '<='} ${formatRatio(target.ratio)}`;
  return `${row.better === 'higher' ? '>' : '<'} ${formatValue(target.limit, row.unit)}`;
}

/**
 * Exactly 1 only when every expected delivery arrived: 0.9999996 must not round to 1.
 * Where the trials had several rooms, also how many deliveries went to another room than
 * the message's (they are not in `delivered`, and any at all is a failure); and any surplus
 * (room-trial.ts, Delivery).
 */
export function formatDelivery(row: Row): string {
  const { delivered, expected, misrouted, surplus } = row.delivery;
  let strays = misrouted === undefined ? '' : misrouted === 0 ? ', 0 to other rooms' : `, **${misrouted} to other rooms**`;
  if (surplus !== undefined) strays += `, ${surplus} more than expected`;
  if (delivered === expected && row.worstDelivery === 1) return `1 (${delivered})${strays}`;
  return `${(delivered / expected).toFixed(6)} (${delivered}/${expected}, worst ${row.worstDelivery.toFixed(6)})${strays}`;
}
