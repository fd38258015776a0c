import { type ModelStat, STAT_PHASES } from '@meridian/protocol';

// Triton's statistics extension: each replica reports its own figures since it loaded the version; a
// deployment's are their sum.

/** A count the agent sent: a finite number ≥ 0, or 0 for anything else (never NaN in a sum). */
const figure = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;

/** The one `$model_stat` of a replica's answer, or undefined when it has another shape. */
function replicaStat(answer: unknown): Record<string, unknown> | undefined {
  const stats = (answer as { model_stats?: unknown } | null)?.model_stats;
  const stat = Array.isArray(stats) ? stats[0] : undefined;
  return stat !== null && typeof stat === 'object' ? (stat as Record<string, unknown>) : undefined;
}

/** The sum of the replicas' answers (those that answered in shape) for one version, named as the caller knows it. */
export function sumReplicaStats(name: string, version: string, answers: unknown[]): ModelStat {
  const total: ModelStat = {
    name,
    version,
    last_inference: 0,
    inference_count: 0,
    execution_count: 0,
    inference_stats: Object.fromEntries(
      STAT_PHASES.map((p) => [p, { count: 0, ns: 0 }]),
    ) as ModelStat['inference_stats'],
    batch_stats: [],
  };
  for (const stat of answers.map(replicaStat)) {
    if (!stat) continue;
    total.last_inference = Math.max(total.last_inference, figure(stat.last_inference));
    total.inference_count += figure(stat.inference_count);
    total.execution_count += figure(stat.execution_count);
    const phases = (stat.inference_stats ?? {}) as Record<
      string,
      { count?: unknown; ns?: unknown } | undefined
    >;
    for (const phase of STAT_PHASES) {
      total.inference_stats[phase].count += figure(phases[phase]?.count);
      total.inference_stats[phase].ns += figure(phases[phase]?.ns);
    }
  }
  return total;
}
