import {
  type CategoricalSketch,
  driftBucketOf,
  type FeatureDriftSketch,
  type FeatureSketch,
  MAX_CATEGORIES,
  type Tensor,
  toNumeric,
} from '@meridian/protocol';

/** Tabular inputs ([N, F]) get a sketch per column up to this many columns; wider ones one per tensor. */
export const MAX_COLUMNS = 256;
/** Values a whole-tensor sketch takes from one sampled request (evenly strided): bounds its cost. */
export const MAX_VALUES_PER_TENSOR = 1_024;

const INTEGER_TYPES = new Set([
  'BOOL',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
]);
const FLOAT_TYPES = new Set(['FP32', 'FP64']);

type Sketches = Map<string, { versionId: string | null; sketch: FeatureSketch }>;

/**
 * Samples `rate` of the requests of each deployment (decoded inputs, before the model runs) into sketches per
 * feature: per column of an [N, F] input with F ≤ MAX_COLUMNS, per tensor otherwise; numeric values into the
 * shared log buckets, integer types into exact counts while few. Only sketches are kept, never a value.
 */
export class DriftSampler {
  private byDeployment = new Map<string, Sketches>();

  constructor(
    private rate: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Changes the sampled share from the next request on (0 turns sampling off). */
  setRate(rate: number): void {
    this.rate = Math.min(1, Math.max(0, rate));
  }

  /** Whether this request is sampled; cheap enough to ask on every request. */
  shouldSample(): boolean {
    return this.rate > 0 && (this.rate >= 1 || this.random() < this.rate);
  }

  /** Adds a sampled request's inputs (call only when shouldSample said so, before the tensors are handed on). */
  add(deploymentId: string, versionId: string | null, inputs: readonly Tensor[]): void {
    let sketches = this.byDeployment.get(deploymentId);
    if (!sketches) {
      sketches = new Map();
      this.byDeployment.set(deploymentId, sketches);
    }
    for (const tensor of inputs) {
      const integer = INTEGER_TYPES.has(tensor.datatype);
      if (!integer && !FLOAT_TYPES.has(tensor.datatype)) continue;
      const data = tensor.data as ArrayLike<number | bigint>;
      const [rows, cols] = tensor.shape;
      if (tensor.shape.length === 2 && cols !== undefined && rows !== undefined && cols <= MAX_COLUMNS) {
        for (let c = 0; c < cols; c += 1) {
          const sketch = sketchOf(sketches, `${tensor.name}[${c}]`, versionId, integer);
          for (let r = 0; r < rows; r += 1) addValue(sketch, data[r * cols + c]);
        }
        continue;
      }
      const sketch = sketchOf(sketches, tensor.name, versionId, integer);
      const step = Math.max(1, Math.floor(data.length / MAX_VALUES_PER_TENSOR));
      for (let i = 0; i < data.length; i += step) addValue(sketch, data[i]);
    }
  }

  /** Everything sketched since the last drain, and a fresh start. */
  drain(): FeatureDriftSketch[] {
    const out: FeatureDriftSketch[] = [];
    for (const [deploymentId, sketches] of this.byDeployment) {
      for (const [feature, { versionId, sketch }] of sketches) {
        if (sketch.count === 0) continue;
        const final =
          sketch.kind === 'categorical' && Object.keys(sketch.counts).length > MAX_CATEGORIES
            ? toNumeric(sketch)
            : sketch;
        out.push({ deploymentId, versionId, feature, sketch: final });
      }
    }
    this.byDeployment = new Map();
    return out;
  }
}

type Holder = { versionId: string | null; sketch: FeatureSketch };

function sketchOf(sketches: Sketches, feature: string, versionId: string | null, integer: boolean): Holder {
  let holder = sketches.get(feature);
  if (!holder) {
    holder = {
      versionId,
      sketch: integer
        ? { kind: 'categorical', count: 0, counts: {} }
        : { kind: 'numeric', count: 0, bins: {} },
    };
    sketches.set(feature, holder);
  }
  return holder;
}

function addValue(holder: Holder, raw: number | bigint | undefined): void {
  if (raw === undefined) return;
  const value = Number(raw);
  if (!Number.isFinite(value)) return;
  const sketch = holder.sketch;
  sketch.count += 1;
  if (sketch.kind === 'categorical') {
    const key = String(value);
    sketch.counts[key] = (sketch.counts[key] ?? 0) + 1;
    // Too many distinct values for counts: from now on this feature is numeric.
    if (Object.keys(sketch.counts).length > MAX_CATEGORIES)
      holder.sketch = toNumeric(sketch as CategoricalSketch);
    return;
  }
  const bin = String(driftBucketOf(value));
  sketch.bins[bin] = (sketch.bins[bin] ?? 0) + 1;
}
