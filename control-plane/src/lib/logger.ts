type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Field names whose values are never written, at any depth. */
const SECRET_FIELD = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|private/i;

export type LogFields = Record<string, unknown>;
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const secretFieldMemo = new Map<string, boolean>();
/** Field names repeat endlessly (an access log has the same eight), so the regex runs once per name. */
function isSecretField(name: string): boolean {
  let secret = secretFieldMemo.get(name);
  if (secret === undefined) {
    secret = SECRET_FIELD.test(name);
    if (secretFieldMemo.size < 10_000) secretFieldMemo.set(name, secret);
  }
  return secret;
}

/**
 * A failed query's message (drizzle's "Failed query: … params: …") carries every bound value, a password hash
 * or a token among them, and its stack repeats the message: both are written with the query alone. The cause
 * (the driver's own error, e.g. which constraint failed) is kept, since it is what says why.
 */
function serializeError(error: Error, depth: number): Record<string, unknown> {
  const query = (error as { query?: unknown }).query;
  const params = (error as { params?: unknown }).params;
  let message = error.message;
  let stack = error.stack;
  if (typeof query === 'string' && Array.isArray(params)) {
    message = `Failed query: ${query} (${params.length} parameters withheld)`;
    stack = stack?.replace(error.message, () => message);
  }
  const out: Record<string, unknown> = { name: error.name, message, stack };
  if (error.cause !== undefined) out.cause = redact(error.cause, depth + 1);
  return out;
}

function redact(value: unknown, depth = 0): unknown {
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return serializeError(value, depth);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretField(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/**
 * Writes lines to stdout in batches: one write per event-loop turn instead of one per line, which is most
 * of what an access log costs under load. Pending lines are flushed synchronously when the process exits.
 */
export function bufferedStdout(): (line: string) => void {
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const chunk = `${pending.join('\n')}\n`;
    pending = [];
    process.stdout.write(chunk);
  };
  process.on('exit', flush);
  return (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(line);
  };
}

/** Structured JSON lines, one per event; secrets are redacted by field name before anything is written. */
export function createLogger(
  level: Level | 'silent',
  write: (line: string) => void = bufferedStdout(),
): Logger {
  const emit = (lvl: Level, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const safe = fields ? (redact(fields) as LogFields) : {};
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...safe }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
