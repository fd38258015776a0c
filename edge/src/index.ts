import { createEdgeApp } from './app.js';
import type { Env } from './env.js';

export type { Env } from './env.js';
// Durable Object classes must be exported from the entry module under the names wrangler.toml binds.
export { OrgLimiter } from './limits/org-limiter.js';

const app = createEdgeApp();

// The Worker entry: the one place that receives bindings; wrangler demands the default export.
export default {
  fetch(request, env, ctx) {
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
