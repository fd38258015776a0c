import type { ModelStat } from '@meridian/protocol';
import { Counter, Registry } from 'prom-client';

type Labelled = { inc(value?: number): void };
/** What Prometheus sees, under Triton's names. */
type ExportedCounters = {
  success: Labelled;
  failure: Labelled;
  count: Labelled;
  execCount: Labelled;
  requestUs: Labelled;
  queueUs: Labelled;
  computeUs: Labelled;
};
/** And what only the statistics extension reports (Triton has no metric for them). */
export type ModelCounters = ExportedCounters & {
  failureUs: Labelled;
  /** Ms since the epoch of the last request answered, 0 before the first. */
  lastInferenceMs: number;
};

/** A counter bumped on the hot path: a plain number, read by Prometheus when it scrapes. */
class Tally {
  value = 0;
  inc(value = 1): void {
    this.value += value;
  }
}

type Tallies = Record<keyof ExportedCounters | 'failureUs', Tally> & { lastInferenceMs: number };
type Bound = { labels: { model: string; version: string }; counters: Tallies };

const COUNTERS: Record<keyof ExportedCounters, [name: string, help: string]> = {
  success: ['nv_inference_request_success', 'Successful inference requests'],
  failure: ['nv_inference_request_failure', 'Failed inference requests'],
  count: ['nv_inference_count', 'Inferences performed (one per batch row)'],
  execCount: ['nv_inference_exec_count', 'Model executions (batches) performed'],
  requestUs: ['nv_inference_request_duration_us', 'Cumulative end-to-end inference request duration'],
  queueUs: ['nv_inference_queue_duration_us', 'Cumulative time requests waited in the queue'],
  computeUs: ['nv_inference_compute_infer_duration_us', 'Cumulative model execution time'],
};

/**
 * Triton-named Prometheus counters, labelled by model and version. Durations are cumulative µs. A request
 * adds to plain numbers (prom-client's labelled inc hashes and validates the labels on every call: six of
 * them cost a small model's request several µs); each scrape copies the numbers into the counters.
 */
export class InferenceMetrics {
  readonly registry: Registry;
  private readonly byModel = new Map<string, Bound>();

  constructor(registry = new Registry()) {
    this.registry = registry;
    const byModel = this.byModel;
    for (const [key, [name, help]] of Object.entries(COUNTERS) as [
      keyof ExportedCounters,
      [string, string],
    ][])
      new Counter({
        name,
        help,
        labelNames: ['model', 'version'] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const { labels, counters } of byModel.values()) this.inc(labels, counters[key].value);
        },
      });
  }

  /** Counters bound to one model version (cached: the hot path adds to numbers, no label lookups). */
  forModel(model: string, version: string): ModelCounters {
    const key = `${model}\u0000${version}`;
    let bound = this.byModel.get(key);
    if (!bound) {
      const tally = () => new Tally();
      bound = {
        labels: { model, version },
        counters: {
          success: tally(),
          failure: tally(),
          count: tally(),
          execCount: tally(),
          requestUs: tally(),
          queueUs: tally(),
          computeUs: tally(),
          failureUs: tally(),
          lastInferenceMs: 0,
        },
      };
      this.byModel.set(key, bound);
    }
    return bound.counters;
  }

  /**
   * The version's statistics since this agent loaded it, in Triton's shape. Input and output preparation
   * are not timed apart from the run here, so compute_input and compute_output read zero.
   */
  statistics(model: string, version: string): ModelStat {
    const c = this.forModel(model, version) as Tallies;
    const ns = (us: number) => Math.round(us * 1000);
    const served = c.success.value;
    return {
      name: model,
      version,
      last_inference: c.lastInferenceMs,
      inference_count: c.count.value,
      execution_count: c.execCount.value,
      inference_stats: {
        success: { count: served, ns: ns(c.requestUs.value) },
        fail: { count: c.failure.value, ns: ns(c.failureUs.value) },
        queue: { count: served, ns: ns(c.queueUs.value) },
        compute_input: { count: 0, ns: 0 },
        compute_infer: { count: served, ns: ns(c.computeUs.value) },
        compute_output: { count: 0, ns: 0 },
      },
      batch_stats: [],
    };
  }
}
