import { METERS, type Meter, PLAN_FEES_USD, PRICES } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { stripeMeters } from '../../../db/schema.js';
import type { StripeGateway } from './gateway.js';

/** The Stripe side of the price catalogue: a meter and a metered price per Meridian meter, and the Pro fee. */
export interface StripeCatalogue {
  meters: Record<Meter, { meterId: string; eventName: string; priceId: string }>;
  proPriceId: string;
}

export const eventNameFor = (meter: Meter) => `meridian_${meter}`;
/** Every plan fee's price carries a lookup key with this prefix; a subscription item with one is a fee item. */
export const PLAN_PRICE_LOOKUP_PREFIX = 'meridian_plan_';
export const PRO_PRICE_LOOKUP_KEY = `${PLAN_PRICE_LOOKUP_PREFIX}pro_monthly`;

const DECIMAL = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

/**
 * USD per unit (a decimal string, possibly in exponent form) as cents with at most 12 decimal places, the
 * most Stripe's `unit_amount_decimal` takes; rounded half up. Exact: BigInt arithmetic, no floats.
 */
export function centsPerUnit(usd: string): string {
  const m = DECIMAL.exec(usd.trim());
  if (!m) throw new Error(`Not a decimal price: ${usd}`);
  const [, whole = '0', fraction = '', exponent = '0'] = m;
  // value = digits × 10^shift in cents; scaled to 12 decimal places: digits × 10^(shift + 12).
  const digits = BigInt(whole + fraction);
  const shift = Number(exponent) - fraction.length + 2 + 12;
  const scaled =
    shift >= 0
      ? digits * 10n ** BigInt(shift)
      : (digits * 2n + 10n ** BigInt(-shift)) / (2n * 10n ** BigInt(-shift));
  const text = scaled.toString().padStart(13, '0');
  const result = `${text.slice(0, -12)}.${text.slice(-12)}`.replace(/\.?0+$/, '');
  return result === '' ? '0' : result;
}

/**
 * Makes sure Stripe has every meter and price, once. Stored rows come first; then Stripe is asked (a meter by
 * its event name, a price by its lookup key) so that a crash between Stripe creating something and our storing
 * it does not create it twice; creation itself carries an Idempotency-Key for the same reason.
 */
export async function ensureMeters(db: Database, gateway: StripeGateway): Promise<StripeCatalogue> {
  const stored = new Map((await db.select().from(stripeMeters)).map((row) => [row.meter, row]));
  const meters = {} as StripeCatalogue['meters'];
  for (const meter of METERS) {
    const eventName = eventNameFor(meter);
    let row = stored.get(meter);
    if (!row) {
      const found =
        (await gateway.findMeter(eventName)) ??
        (await gateway.createMeter(
          { eventName, displayName: PRICES[meter].description },
          `meridian-meter-${eventName}`,
        ));
      row = { meter, stripeMeterId: found.id, eventName, priceId: null };
      await db.insert(stripeMeters).values(row).onConflictDoNothing();
    }
    let priceId = row.priceId;
    if (!priceId) {
      const lookupKey = eventName;
      priceId =
        (await gateway.findPrice(lookupKey)) ??
        (await gateway.createPrice(
          {
            lookupKey,
            productName: PRICES[meter].description,
            unitAmountDecimal: centsPerUnit(PRICES[meter].usdPerUnit),
            usage: { metered: true, meterId: row.stripeMeterId },
          },
          `meridian-price-${lookupKey}`,
        ));
      await db.update(stripeMeters).set({ priceId }).where(eq(stripeMeters.meter, meter));
    }
    meters[meter] = { meterId: row.stripeMeterId, eventName: row.eventName, priceId };
  }
  const proPriceId =
    (await gateway.findPrice(PRO_PRICE_LOOKUP_KEY)) ??
    (await gateway.createPrice(
      {
        lookupKey: PRO_PRICE_LOOKUP_KEY,
        productName: 'Meridian Pro',
        unitAmountDecimal: centsPerUnit(PLAN_FEES_USD.pro),
        usage: { metered: false },
      },
      `meridian-price-${PRO_PRICE_LOOKUP_KEY}`,
    ));
  return { meters, proPriceId };
}
