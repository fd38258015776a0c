// Types `exports` from `cloudflare:workers`: the loopback bindings to the Worker under test (edge/src/index.ts).
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import('../src/index.js');
  }
}
