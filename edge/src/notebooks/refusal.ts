import { type ErrorCode, statusForErrorCode } from '@meridian/protocol';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { type EdgeError, respondWithError } from '../errors.js';

/** What each refusal tells a person in a browser, beside the message. */
const TITLES: Partial<Record<ErrorCode, string>> = {
  unauthenticated: 'Sign in to open this notebook',
  not_found: 'Notebook not found',
  payment_required: 'Organization suspended',
  unavailable: 'Notebook not running',
};

/**
 * A notebook request refused: a small HTML page saying why for a browser's page load (it asks for HTML),
 * the shared JSON envelope for everything else (scripts, API clients, WebSocket upgrades).
 */
export function refuseNotebookRequest(c: Context, err: EdgeError, requestId: string): Response {
  const res = wantsHtml(c)
    ? c.html(page(err, requestId), (err.status ?? statusForErrorCode(err.code)) as ContentfulStatusCode)
    : respondWithError(c, err.code, err.message, requestId, err.status);
  for (const [name, value] of Object.entries(err.headers)) res.headers.set(name, value);
  res.headers.set('cache-control', 'no-store');
  return res;
}

function wantsHtml(c: Context): boolean {
  return c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html');
}

function page(err: EdgeError, requestId: string): string {
  const title = TITLES[err.code] ?? 'Request refused';
  const retry = retrySeconds(err);
  // A notebook still starting, or a control plane briefly out of reach: the page tries again by itself, so a
  // user who opened it a moment early lands in Jupyter without reloading by hand.
  const refresh = retry === undefined ? '' : `<meta http-equiv="refresh" content="${retry}">`;
  const note = retry === undefined ? '' : `<p>This page tries again by itself every ${retry} s.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">${refresh}
<title>${escapeHtml(title)} · Meridian</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25rem}small{color:#777}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(err.message)}</p>${note}
<p><small>Request <code>${escapeHtml(requestId)}</code></small></p></body></html>`;
}

/** Seconds until a 503 is worth retrying (its Retry-After); undefined for refusals a retry does not change. */
function retrySeconds(err: EdgeError): number | undefined {
  if (err.code !== 'unavailable') return undefined;
  const seconds = Number(err.headers['Retry-After']);
  return Number.isInteger(seconds) && seconds > 0 ? seconds : undefined;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
