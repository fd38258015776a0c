// The reference the edge is measured against: a Worker that forwards each request to UPSTREAM unchanged
// (method, path and query, headers, streamed body) and returns the upstream's response as it is. Loaded as
// is by raw workerd (bench/edge/workerd-config.ts) and by Miniflare (bench/edge/miniflare-worker.ts).
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(new URL(url.pathname + url.search, env.UPSTREAM), request);
  },
};
