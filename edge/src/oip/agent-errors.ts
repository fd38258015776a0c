import { errorCodeForStatus } from '@meridian/protocol';

const decoder = new TextDecoder();
/** An agent's error message is passed on; one this long is cut, as a caller only needs its start. */
const MAX_MESSAGE_CHARS = 1_000;

/** What an agent's failed answer says: its message, and whether it was already OIP's `{"error": "…"}`. */
export interface AgentError {
  message: string;
  /** The body is `{"error": "<string>", …}` and can go to an OIP caller unchanged. */
  oip: boolean;
}

/** Reads an agent's non-2xx answer: OIP's `{"error": string}`, an envelope `{"error": {"message"}}`, or text. */
export function readAgentError(status: number, body: Uint8Array): AgentError {
  const text = decoder.decode(body);
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return { message: parsed.error, oip: true };
    const nested = parsed.error as { message?: unknown } | undefined;
    if (typeof nested?.message === 'string') return { message: nested.message, oip: false };
  } catch {
    // Not JSON: the text itself, if there is any, is the message.
  }
  const trimmed = text.trim().slice(0, MAX_MESSAGE_CHARS);
  return { message: trimmed === '' ? `the model server answered ${status}` : trimmed, oip: false };
}

/** The edge's error code for an agent's status, for callers of the edge's own (non-OIP) routes. */
export const codeForStatus = errorCodeForStatus;
