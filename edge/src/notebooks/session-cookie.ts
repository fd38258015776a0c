import { createHmac } from 'node:crypto';

/**
 * A browser's session with one notebook, bound to the user's login (the `sid` of the access token it was
 * opened with), not to that 15-minute token: it holds while the login does and ends with it. The cookie
 * carries only ids and a MAC; whether the login still holds is asked of the session records on every use.
 */
export interface NotebookSession {
  notebookId: string;
  sessionId: string;
  userId: string;
  orgId: string;
}

/** One name for every notebook: each cookie is scoped to its own `/notebooks/{id}/` path. */
export const NOTEBOOK_COOKIE = 'meridian_notebook_session';

const VERSION = 'v1';
const FIELD = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The cookie's MAC key, derived from the edge's service secret with a label of its own: no new secret to
 * deploy, and a MAC made here can never pass for anything else made from that secret. Agents never hold it.
 */
function macKey(secret: string): Uint8Array {
  return createHmac('sha256', secret).update('meridian notebook session cookie v1').digest();
}

function mac(secret: string, payload: string): string {
  return toBase64Url(createHmac('sha256', macKey(secret)).update(payload).digest());
}

/** The cookie value for `session`: `v1.<notebook>.<session>.<user>.<org>.<mac>`. */
export function sealNotebookSession(secret: string, session: NotebookSession): string {
  const fields = [session.notebookId, session.sessionId, session.userId, session.orgId];
  if (!fields.every((f) => FIELD.test(f))) throw new Error('notebook session fields must be ids');
  const payload = [VERSION, ...fields].join('.');
  return `${payload}.${mac(secret, payload)}`;
}

/** The session a cookie value carries, or undefined when it is malformed or its MAC does not match. */
export function openNotebookSession(secret: string, value: string): NotebookSession | undefined {
  const parts = value.split('.');
  if (parts.length !== 6 || parts[0] !== VERSION) return undefined;
  const [, notebookId, sessionId, userId, orgId, tag] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (![notebookId, sessionId, userId, orgId].every((f) => FIELD.test(f))) return undefined;
  if (!constantTimeEqual(tag, mac(secret, parts.slice(0, 5).join('.')))) return undefined;
  return { notebookId, sessionId, userId, orgId };
}

/** Attributes for the notebook's cookie: HttpOnly, SameSite=Lax, Secure on HTTPS, its path only. */
export function cookieOptions(notebookId: string, secure: boolean, maxAgeSeconds: number | undefined) {
  return {
    path: `/notebooks/${notebookId}/`,
    httpOnly: true,
    secure,
    sameSite: 'Lax' as const,
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}
