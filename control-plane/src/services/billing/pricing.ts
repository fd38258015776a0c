import { METERS, PLAN_FEES_USD, PLAN_LIMITS, PLANS, type Plan, PRICES } from '@meridian/protocol';
import { formatDecimal, parseDecimal } from './money.js';

/** Plans as people read them. */
export const PLAN_NAMES: Readonly<Record<Plan, string>> = {
  free: 'Free',
  pro: 'Pro',
  enterprise: 'Enterprise',
};

/** THE rounding rule in words, as the API states it. */
export const ROUNDING_RULE =
  'Usage is billed per organisation, meter and UTC hour. Running time is the hour’s total seconds rounded up ' +
  'to whole minutes; storage is the hour’s byte-hours in MB-hours (10^6 byte-hours) rounded half up; calls ' +
  'count exactly. Each line is its billable quantity times the unit price, computed exactly; only an ' +
  'invoice’s total is rounded, to whole cents, half up.';

/** The public price list: meters with their unit prices, plans with fees and limits. Pure. */
export function pricingCatalogue() {
  return {
    currency: 'usd' as const,
    meters: METERS.map((meter) => ({
      meter,
      unit: PRICES[meter].unit,
      rawUnit: PRICES[meter].rawUnit,
      usdPerUnit: formatDecimal(parseDecimal(PRICES[meter].usdPerUnit)),
      description: PRICES[meter].description,
    })),
    plans: PLANS.map((plan) => ({
      plan,
      monthlyFeeUsd: PLAN_FEES_USD[plan],
      monthlyCalls: PLAN_LIMITS[plan].monthlyCalls,
      models: PLAN_LIMITS[plan].models,
    })),
    rounding: ROUNDING_RULE,
  };
}
