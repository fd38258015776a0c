// Types `exports` from `cloudflare:workers`: the loopback bindings to the Worker under test (edge/src/index.ts).
declare namespace Cloudflare {
  type EdgeEnv = import('../src/env.js').Env;
  // `env` from cloudflare:workers carries the Worker's own bindings.
  interface Env extends EdgeEnv {}
  interface GlobalProps {
    mainModule: typeof import('../src/index.js');
  }
}
