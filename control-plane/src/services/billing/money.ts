/**
 * Exact decimal money. A value is `units × 10^-scale` with `units` a BigInt, so a line (an integer
 * quantity × a price such as 0.000000136986301370 USD) and any sum of lines are exact; nothing is rounded
 * until an invoice total becomes cents, half up. Floats never hold money here.
 */
export interface Decimal {
  units: bigint;
  scale: number;
}

export const ZERO: Decimal = { units: 0n, scale: 0 };

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

/** Parses `199`, `0.001` or `1.36986301370e-7` exactly. */
export function parseDecimal(text: string): Decimal {
  const match = DECIMAL.exec(text);
  if (!match) throw new Error(`not a decimal: ${text}`);
  const [, sign = '', whole = '0', fraction = '', exponent = '0'] = match;
  const units = BigInt(`${sign}${whole}${fraction}`);
  const scale = fraction.length - Number(exponent);
  return scale >= 0 ? { units, scale } : { units: units * 10n ** BigInt(-scale), scale: 0 };
}

/** `value × quantity` for a whole-number quantity (a billable quantity). */
export function times(value: Decimal, quantity: number): Decimal {
  if (!Number.isSafeInteger(quantity)) throw new Error(`not a whole quantity: ${quantity}`);
  return { units: value.units * BigInt(quantity), scale: value.scale };
}

export function plus(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return {
    units: a.units * 10n ** BigInt(scale - a.scale) + b.units * 10n ** BigInt(scale - b.scale),
    scale,
  };
}

export function sum(values: readonly Decimal[]): Decimal {
  return values.reduce(plus, ZERO);
}

/** Whole cents, half up (half away from zero): 213.145 → 21315. The one place money is rounded. */
export function toCentsHalfUp(value: Decimal): number {
  const shift = value.scale - 2;
  if (shift <= 0) return Number(value.units * 10n ** BigInt(-shift));
  const divisor = 10n ** BigInt(shift);
  const negative = value.units < 0n;
  const magnitude = negative ? -value.units : value.units;
  const cents = magnitude / divisor + (2n * (magnitude % divisor) >= divisor ? 1n : 0n);
  return Number(negative ? -cents : cents);
}

/** The exact value as a plain decimal string without trailing zeros: `12.345`, `0.000136986301370` → `0.00013698630137`. */
export function formatDecimal(value: Decimal): string {
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, '0');
  const whole = digits.slice(0, digits.length - value.scale);
  const fraction = digits.slice(digits.length - value.scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}
