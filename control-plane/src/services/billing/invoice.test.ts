import { billableQuantity, billingWindow, type Meter, PRICES } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { invoiceFor } from './invoice.js';
import { formatDecimal, parseDecimal, plus, toCentsHalfUp } from './money.js';
import type { WindowUsage } from './windows.js';

const HOUR = 3_600_000;
const start = Date.UTC(2026, 10, 1);

/** Windows as usageByWindow returns them: [meter, hour, raw total], each rounded by THE rule. */
function windows(...raw: [Meter, number, number][]): WindowUsage[] {
  return raw.map(([meter, hour, rawQuantity]) => ({
    orgId: 'org_a',
    meter,
    windowStart: billingWindow(start + hour * HOUR),
    rawQuantity,
    billableQuantity: billableQuantity(meter, rawQuantity),
  }));
}

describe('exact money', () => {
  it('reads the catalogue’s prices exactly, exponent form included', () => {
    expect(formatDecimal(parseDecimal('0.001'))).toBe('0.001');
    expect(formatDecimal(parseDecimal('199'))).toBe('199');
    expect(formatDecimal(parseDecimal(PRICES.storage_mb_hours.usdPerUnit))).toBe('0.00000013698630137');
    expect(formatDecimal(parseDecimal('1.5e3'))).toBe('1500');
  });

  it('adds amounts without float error: 0.1 + 0.2 is 0.3', () => {
    expect(formatDecimal(plus(parseDecimal('0.1'), parseDecimal('0.2')))).toBe('0.3');
  });

  it('rounds to cents half up, and only there', () => {
    expect(toCentsHalfUp(parseDecimal('213.145'))).toBe(21315);
    expect(toCentsHalfUp(parseDecimal('0.005'))).toBe(1);
    expect(toCentsHalfUp(parseDecimal('0.00499999'))).toBe(0);
    expect(toCentsHalfUp(parseDecimal('12'))).toBe(1200);
    expect(toCentsHalfUp(parseDecimal('1.2'))).toBe(120);
  });
});

describe('invoice maths', () => {
  it('bills Pro + 12,345 calls + 90 T4 minutes as 21,315 cents (213.145 rounded half up)', () => {
    // 60 T4 minutes in one hour and 30 in the next (90 billable minutes at $0.02); calls in two hours.
    const invoice = invoiceFor(
      'pro',
      windows(
        ['inference_calls', 0, 12_000],
        ['inference_calls', 5, 345],
        ['gpu_t4_minutes', 0, 3600],
        ['gpu_t4_minutes', 1, 1800],
      ),
    );
    const line = (meter: Meter | null) => invoice.lines.find((l) => l.meter === meter);
    expect(line(null)).toMatchObject({ quantity: 1, unitPriceUsd: '199', amountUsd: '199' });
    expect(line('inference_calls')).toMatchObject({
      quantity: 12_345,
      unitPriceUsd: '0.001',
      amountUsd: '12.345',
    });
    expect(line('gpu_t4_minutes')).toMatchObject({ quantity: 90, unitPriceUsd: '0.02', amountUsd: '1.8' });
    expect(line('cpu_minutes')).toMatchObject({ quantity: 0, amountUsd: '0' });
    expect(invoice.lines).toHaveLength(7);
    expect(invoice.subtotalUsd).toBe('213.145');
    expect(invoice.totalCents).toBe(21_315);
  });

  it('prices a GB-month of storage exactly, then rounds it to 10 cents', () => {
    // 1 GB held for 730 hours: 730 windows of 10^9 byte-hours, 1,000 MB-hours each.
    const hours = Array.from({ length: 730 }, (_, h): [Meter, number, number] => [
      'storage_mb_hours',
      h,
      1e9,
    ]);
    const invoice = invoiceFor('free', windows(...hours));
    expect(invoice.lines.find((l) => l.meter === 'storage_mb_hours')?.amountUsd).toBe('0.1000000000001');
    expect(invoice.totalCents).toBe(10);
  });

  it('charges nothing on Free without usage', () => {
    const invoice = invoiceFor('free', []);
    expect(invoice.subtotalUsd).toBe('0');
    expect(invoice.totalCents).toBe(0);
  });
});
