import type { LineAnswer } from './dispatch.js';

type Ok = Extract<LineAnswer, { ok: true }>;

/** An output file line: the answer as the route the line named gives it. */
export function outputLine(
  line: number,
  customId: string,
  answer: Ok,
  simple: boolean,
  deploymentName: string,
): string {
  const outputs = Array.isArray(answer.body.outputs)
    ? (answer.body.outputs as { name: string; shape: number[]; data: unknown[] }[])
    : [];
  const body = simple
    ? {
        outputs: Object.fromEntries(outputs.map((t) => [t.name, nest(t.data, t.shape)])),
        version: answer.version,
      }
    : { ...answer.body, model_name: deploymentName, model_version: String(answer.version) };
  return JSON.stringify({ custom_id: customId, line, response: { status_code: 200, body }, error: null });
}

/** An error file line: the line number, its custom_id (null when none could be read) and what was wrong. */
export function errorLine(
  line: number,
  customId: string | null,
  error: { code: string; message: string; status?: number | null },
): string {
  return JSON.stringify({
    custom_id: customId,
    line,
    response: error.status ? { status_code: error.status, body: { error: error.message } } : null,
    error: { code: error.code, message: error.message },
  });
}

function nest(data: unknown[], shape: number[]): unknown {
  if (shape.length === 0) return data[0];
  const [first = 0, ...rest] = shape;
  const size = rest.reduce((n, d) => n * d, 1);
  return Array.from({ length: first }, (_, i) => nest(data.slice(i * size, (i + 1) * size), rest));
}
