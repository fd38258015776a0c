import type { CallCounts } from './control-plane-proxy.js';
import type { Cell, EdgeStats, Target, Upstream } from './types.js';

/** The issue's targets for the edge against a bare Worker of the same runtime. */
export const TARGETS = {
  p50AddedMs: 1,
  /** The p50 target is set at one caller: at 50 the queue in front of the bare Worker decides the p50. */
  p50Callers: 1,
  throughputRatio: 0.7,
  predictionsPerLimiterCall: 50,
};

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const low = sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
  const high = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  return (low + high) / 2;
}

/** One cell from its rounds: median req/s and latencies, control-plane and limiter calls summed. */
export function mergeRounds(rounds: Cell[] | undefined): Cell | undefined {
  const first = rounds?.[0];
  if (!rounds || !first || rounds.length === 1) return first;
  const stats = rounds.map((r) => r.stats);
  const counted = stats.filter((x): x is { before: EdgeStats; after: EdgeStats } => typeof x === 'object');
  const sum = (f: (s: EdgeStats) => number) => counted.reduce((n, x) => n + f(x.after) - f(x.before), 0);
  return {
    ...first,
    rps: median(rounds.map((r) => r.rps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    hopUsPerReq: first.hopUsPerReq === undefined ? undefined : median(rounds.map((r) => r.hopUsPerReq ?? 0)),
    ...(first.calls
      ? {
          calls: rounds.reduce(
            (a, r) => ({
              routing: a.routing + (r.calls?.routing ?? 0),
              usage: a.usage + (r.calls?.usage ?? 0),
              refresh: a.refresh + (r.calls?.refresh ?? 0),
              other: a.other + (r.calls?.other ?? 0),
              otherPaths: [...a.otherPaths, ...(r.calls?.otherPaths ?? [])],
              otherAt: [...a.otherAt, ...(r.calls?.otherAt ?? [])],
            }),
            {
              routing: 0,
              usage: 0,
              refresh: 0,
              other: 0,
              otherPaths: [] as string[],
              otherAt: [] as number[],
            },
          ),
        }
      : {}),
    ...(first.stats === undefined
      ? {}
      : {
          stats:
            counted.length < stats.length
              ? (stats.find((x) => typeof x === 'string') ?? 'n/a')
              : {
                  before: { limiterCalls: 0, predictions: 0 },
                  after: { limiterCalls: sum((x) => x.limiterCalls), predictions: sum((x) => x.predictions) },
                },
        }),
  };
}

const fixed = (n: number, digits: number, width: number) =>
  (Number.isFinite(n) ? n.toFixed(digits) : 'n/a').padStart(width);
/** A difference with its sign: +12, −8 (not "+-8"). */
export const signed = (n: number, digits: number) => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(digits)}`;
export const pct = (n: number) => `${(n * 100).toFixed(0)}%`.padStart(7);

function limiterLine(stats: Cell['stats']): string {
  if (stats === undefined) return 'limiter calls n/a';
  if (typeof stats === 'string') return `limiter calls ${stats}`;
  const limiterCalls = stats.after.limiterCalls - stats.before.limiterCalls;
  const predictions = stats.after.predictions - stats.before.predictions;
  const per = limiterCalls === 0 ? '∞' : (predictions / limiterCalls).toFixed(1);
  return `limiter calls ${limiterCalls} for ${predictions} predictions (${per} predictions per limiter call)`;
}

function callsLine(calls: CallCounts | undefined): string {
  if (!calls) return 'control plane n/a';
  const other = calls.other === 0 ? '' : ` [${[...new Set(calls.otherPaths)].join(', ')}]`;
  return `control plane: ${calls.other} on the request path${other}; background ${calls.routing} routing pulls, ${calls.usage} usage flushes, ${calls.refresh} refreshes ahead`;
}

/** Above this share of a core, a cell measures the load generator as much as the server (PERFORMANCE.md). */
export const LOADGEN_LIMIT = 0.3;

/** Width of a target's label in the cell table: the longest, 'workerd header-signing floor'. */
export const LABEL_WIDTH = 28;

export function printCell(say: (line: string) => void, t: Target, u: Upstream, c: number, r: Cell) {
  say(
    `${u.key.padEnd(8)} ${String(c).padStart(3)}  ${t.label.padEnd(LABEL_WIDTH)} ${fixed(r.rps, 0, 7)} ${fixed(r.p50, 3, 8)} ${fixed(r.p99, 3, 8)}  ${String(r.failures).padStart(5)} ${pct(r.loadgenCpu)}${r.loadgenCpu > LOADGEN_LIMIT ? '*' : ' '} ${pct(r.machineBusy)}  ${fixed(r.upstreamUsPerReq, 0, 14)}  ${r.hopUsPerReq === undefined ? '         -' : fixed(r.hopUsPerReq, 0, 10)}`,
  );
  if (r.failures > 0) say(`      failures: ${r.failureSamples.join(' | ')}`);
  if (t.kind === 'edge') say(`      ${callsLine(r.calls)}; ${limiterLine(r.stats)}`);
}

export function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a ' : ok ? 'PASS' : 'FAIL';
}

/**
 * Each runtime's edge with the bare Worker (and, in raw workerd, the two signing floors) it is measured
 * against, once per upstream: the pairs every comparison below walks.
 */
function* edgePairs(targets: Target[], upstreams: Upstream[]) {
  for (const runtime of ['workerd', 'miniflare'] as const) {
    const of = (kind: Target['kind']) => targets.find((t) => t.runtime === runtime && t.kind === kind);
    const bare = of('bare');
    const edge = of('edge');
    if (!bare || !edge) continue;
    const label = runtime === 'workerd' ? 'raw workerd' : 'Miniflare';
    for (const u of upstreams)
      yield { label, bare, edge, floor: of('floor'), headerFloor: of('headerFloor'), u };
  }
}

/** The issue's targets, edge against the bare Worker of the same runtime, side by side. */
export function printTargets(
  say: (line: string) => void,
  connections: number[],
  targets: Target[],
  upstreams: Upstream[],
  cellOf: (t: Target, u: Upstream, c: number) => Cell | undefined,
) {
  const C_LOW = Math.min(...connections);
  const C_HIGH = Math.max(...connections);
  say('');
  say(
    `Targets: edge vs bare Worker in the same runtime: p50 added at c=${TARGETS.p50Callers} ≤ +${TARGETS.p50AddedMs} ms, ` +
      `throughput at c=${C_HIGH} ≥ ${TARGETS.throughputRatio.toFixed(2)}; ` +
      `0 control-plane calls on the request path; ≥ ${TARGETS.predictionsPerLimiterCall} predictions per limiter call`,
  );
  say(
    `${'runtime'.padEnd(10)} ${'upstream'.padEnd(8)}  ${`p50 added c=${TARGETS.p50Callers}`.padEnd(22)}  ${`throughput c=${C_HIGH}`.padEnd(22)}  ${'cp calls, windows'.padEnd(18)}  predictions/limiter call`,
  );
  for (const { label, bare, edge, u } of edgePairs(targets, upstreams)) {
    const b1 = cellOf(bare, u, TARGETS.p50Callers);
    const e1 = cellOf(edge, u, TARGETS.p50Callers);
    const bN = cellOf(bare, u, C_HIGH);
    const eN = cellOf(edge, u, C_HIGH);
    const added = b1 && e1 ? e1.p50 - b1.p50 : Number.NaN;
    const ratio = bN && eN ? eN.rps / bN.rps : Number.NaN;
    const edgeCells = connections.map((c) => cellOf(edge, u, c)).filter((x): x is Cell => x !== undefined);
    const onPath = edgeCells.reduce((n, x) => n + (x.calls?.other ?? 0), 0);
    const limiter = edgeCells.map((x) => x.stats);
    const counted = limiter.filter(
      (s): s is { before: EdgeStats; after: EdgeStats } => typeof s === 'object',
    );
    const calls = counted.reduce((n, s) => n + s.after.limiterCalls - s.before.limiterCalls, 0);
    const predictions = counted.reduce((n, s) => n + s.after.predictions - s.before.predictions, 0);
    const perCall =
      counted.length === 0 || counted.length < limiter.length
        ? 'n/a (no /internal/edge-stats)'
        : `${calls === 0 ? '∞' : (predictions / calls).toFixed(1)} (${calls} calls / ${predictions}) ${verdict(calls === 0 || predictions / calls >= TARGETS.predictionsPerLimiterCall)}`;
    say(
      `${label.padEnd(10)} ${u.key.padEnd(8)}  ${(Number.isFinite(added) ? `${signed(added, 2)} ms ${verdict(added <= TARGETS.p50AddedMs)}` : `n/a (no c=${TARGETS.p50Callers} cell)`).padEnd(22)}  ${`${fixed(ratio, 2, 0)} ${verdict(Number.isFinite(ratio) ? ratio >= TARGETS.throughputRatio : undefined)}`.padEnd(22)}  ${`${onPath} ${verdict(edgeCells.length ? onPath === 0 : undefined)}`.padEnd(18)}  ${perCall}`,
    );
  }
  printCpuCost(say, C_HIGH, targets, upstreams, cellOf);
  const direct = targets.find((t) => t.kind === 'direct');
  const nginx = targets.find((t) => t.kind === 'nginx');
  if (direct && nginx)
    for (const u of upstreams) {
      const d1 = cellOf(direct, u, C_LOW);
      const n1 = cellOf(nginx, u, C_LOW);
      const dN = cellOf(direct, u, C_HIGH);
      const nN = cellOf(nginx, u, C_HIGH);
      if (d1 && n1 && dN && nN)
        say(
          `reference, nginx vs direct (${u.key}): p50 added at c=${C_LOW} ${signed(n1.p50 - d1.p50, 2)} ms, throughput at c=${C_HIGH} ${fixed(nN.rps / dN.rps, 2, 0)}`,
        );
    }
}

/**
 * The throughput ratio at `c` callers in each round on its own. The target line divides the medians of the
 * rounds, which may come from different rounds; this shows whether the line holds round by round.
 */
export function printRoundRatios(
  say: (line: string) => void,
  c: number,
  targets: Target[],
  upstreams: Upstream[],
  roundsOf: (t: Target, u: Upstream, c: number) => Cell[],
) {
  for (const { label, bare, edge, u } of edgePairs(targets, upstreams)) {
    const b = roundsOf(bare, u, c);
    const e = roundsOf(edge, u, c);
    const ratios = e.flatMap((cell, i) => {
      const reference = b[i];
      return reference ? [cell.rps / reference.rps] : [];
    });
    if (ratios.length < 2) continue;
    const held = ratios.filter((r) => r >= TARGETS.throughputRatio).length;
    say(
      `${label} → ${u.key}, edge ÷ bare at c=${c} round by round: ${ratios.map((r) => r.toFixed(2)).join(', ')} (${held} of ${ratios.length} rounds ≥ ${TARGETS.throughputRatio.toFixed(2)})`,
    );
  }
}

/**
 * CPU per request of the proxy process (workerd; Miniflare's Node process and its workerd) at `c` callers:
 * the figure that moves least when other work shares the machine. A runtime serving from one thread cannot
 * pass more than 1 s / (CPU per request), so bare ÷ edge bounds the throughput ratio on a quiet machine.
 */
function printCpuCost(
  say: (line: string) => void,
  c: number,
  targets: Target[],
  upstreams: Upstream[],
  cellOf: (t: Target, u: Upstream, c: number) => Cell | undefined,
) {
  for (const { label, bare, edge, u, floor, headerFloor } of edgePairs(targets, upstreams)) {
    const bareCell = cellOf(bare, u, c);
    const edgeCell = cellOf(edge, u, c);
    const b = bareCell?.hopUsPerReq;
    const e = edgeCell?.hopUsPerReq;
    if (!bareCell || !edgeCell || b === undefined || e === undefined) continue;
    say(
      `CPU per request at c=${c}, ${label} → ${u.key}: edge ${e.toFixed(0)} µs, bare Worker ${b.toFixed(0)} µs (${signed(e - b, 0)} µs); bare ÷ edge ${(b / e).toFixed(2)}, the throughput ratio a CPU-bound run would show`,
    );
    const h = headerFloor && cellOf(headerFloor, u, c);
    if (h?.hopUsPerReq !== undefined)
      say(
        `  header-signing floor (headers signed, body streamed, timeout, answer rebuilt; no edge logic) → ${u.key}: ${h.hopUsPerReq.toFixed(0)} µs, ` +
          `${(h.rps / bareCell.rps).toFixed(2)} of the bare Worker's throughput (the least a per-request signature costs: ${signed(h.hopUsPerReq - b, 0)} µs)`,
      );
    const f = floor && cellOf(floor, u, c);
    if (f?.hopUsPerReq === undefined) continue;
    say(
      `  signing floor (buffer, SHA-256, HMAC, timeout, answer rebuilt; no edge logic) → ${u.key}: ${f.hopUsPerReq.toFixed(0)} µs, ` +
        `${(f.rps / bareCell.rps).toFixed(2)} of the bare Worker's throughput; the edge ${(edgeCell.rps / f.rps).toFixed(2)} of the floor's ` +
        `(signing the body: ${signed(f.hopUsPerReq - b, 0)} µs; the edge's own logic: ${signed(e - f.hopUsPerReq, 0)} µs)`,
    );
  }
}
