/** Bindings the edge Worker receives from wrangler.toml (vars now; KV, Durable Objects and secrets later). */
export interface Env {
  ENVIRONMENT: string;
}
