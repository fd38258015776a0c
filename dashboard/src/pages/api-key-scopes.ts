/**
 * The scopes a new key is created with: `predict` narrowed to `predict:<name>` for each deployment chosen
 * (the API's per-deployment predict scope), the rest as checked. No deployment chosen keeps `predict` whole.
 */
export function keyScopes(checked: readonly string[], deployments: readonly string[]): string[] {
  if (!checked.includes('predict') || deployments.length === 0) return [...checked];
  return [...checked.filter((s) => s !== 'predict'), ...deployments.map((name) => `predict:${name}`)];
}
