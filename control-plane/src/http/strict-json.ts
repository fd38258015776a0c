import type { MiddlewareHandler } from 'hono';
import { AppError, invalidField } from '../errors.js';
import type { AppEnv } from './context.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** An escaped UTF-16 surrogate (`\ud800`…`\udfff`): the only way JSON text can spell a lone one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;
/** With the `u` flag a well-formed pair reads as one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The path (as validation details spell it) of the first key or string holding a lone surrogate. */
function loneSurrogateAt(value: unknown, path: string[] = []): string[] | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = [...path, key];
    if (LONE_SURROGATE.test(key)) return at;
    const found = loneSurrogateAt(item, at);
    if (found) return found;
  }
  return undefined;
}

/**
 * The JSON validator decodes a body leniently: bytes that are not UTF-8 become U+FFFD, and JSON.parse lets
 * a lone `\ud800` through, which libsql then stores as U+FFFD while the answer echoes it raw. Either way
 * the value stored is not the value sent, so such a body is refused. Runs before the validator, which then
 * parses the same (cached) bytes.
 */
export const strictJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!/^application\/([\w.-]+\+)?json$/i.test(c.req.header('content-type')?.split(';')[0]?.trim() ?? ''))
    return next();
  let text: string;
  try {
    text = UTF8.decode(await c.req.arrayBuffer());
  } catch {
    throw new AppError('invalid_json', 'The request body is not valid UTF-8');
  }
  if (SURROGATE_ESCAPE.test(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return next(); // the validator answers invalid_json
    }
    const at = loneSurrogateAt(parsed);
    if (at) {
      throw invalidField(
        at.join('.') || '(body)',
        'must not contain a lone UTF-16 surrogate (\\ud800–\\udfff)',
      );
    }
  }
  return next();
};
