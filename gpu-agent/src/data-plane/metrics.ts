import { Counter, Registry } from 'prom-client';

type Labelled = { inc(value?: number): void };
type ModelCounters = {
  success: Labelled;
  failure: Labelled;
  count: Labelled;
  execCount: Labelled;
  requestUs: Labelled;
  queueUs: Labelled;
  computeUs: Labelled;
};

/** A counter bumped on the hot path: a plain number, read by Prometheus when it scrapes. */
class Tally {
  value = 0;
  inc(value = 1): void {
    this.value += value;
  }
}

type Bound = { labels: { model: string; version: string }; counters: Record<keyof ModelCounters, Tally> };

const COUNTERS: Record<keyof ModelCounters, [name: string, help: string]> = {
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
    for (const [key, [name, help]] of Object.entries(COUNTERS) as [keyof ModelCounters, [string, string]][])
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
        },
      };
      this.byModel.set(key, bound);
    }
    return bound.counters;
  }
}
