/** A request parameter as Stripe reads it: `a[b][0]=x` nests, numeric keys become arrays. */
export type Param = string | Param[] | Params;
export interface Params {
  [key: string]: Param;
}

/** Splits `items[0][price]` into `['items', '0', 'price']`. */
function keyPath(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const rest = key.slice(open).match(/\[([^\]]*)\]/g) ?? [];
  return [key.slice(0, open), ...rest.map((part) => part.slice(1, -1))];
}

function assign(target: Params, path: string[], value: string): void {
  let node: Params = target;
  for (const [i, segment] of path.entries()) {
    if (i === path.length - 1) {
      node[segment] = value;
      return;
    }
    const next = node[segment];
    if (typeof next === 'object' && !Array.isArray(next)) {
      node = next;
    } else {
      const created: Params = {};
      node[segment] = created;
      node = created;
    }
  }
}

/** Objects whose keys are all indices (`items[0]`, `items[1]`) are arrays in Stripe's encoding. */
function arraysFromIndices(value: Param): Param {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const fixed: Params = {};
  for (const key of keys) fixed[key] = arraysFromIndices(value[key] as Param);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => fixed[k] as Param);
  }
  return fixed;
}

/** Parses an `application/x-www-form-urlencoded` body or a query string the way Stripe's API does. */
export function parseForm(encoded: string): Params {
  const root: Params = {};
  for (const [key, value] of new URLSearchParams(encoded)) assign(root, keyPath(key), value);
  return arraysFromIndices(root) as Params;
}

export const asString = (value: Param | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;

export const asParams = (value: Param | undefined): Params | undefined =>
  typeof value === 'object' && !Array.isArray(value) ? value : undefined;

export const asList = (value: Param | undefined): Param[] | undefined =>
  Array.isArray(value) ? value : undefined;

/** A flat string map (metadata, payload); nested values are dropped. */
export function asStringMap(value: Param | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asParams(value) ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}
