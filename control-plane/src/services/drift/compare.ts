import { driftBucketValue, type FeatureSketch, toNumeric } from '@meridian/protocol';

/** Below this many samples on either side a window is judged with KS (numeric) or chi² (categorical). */
export const SMALL_SAMPLE = 1_000;
/** KS and chi² call drift below this p-value, as Evidently does. */
export const P_VALUE_THRESHOLD = 0.05;
/** PSI at or above this is drift (Evidently's default threshold for PSI). */
export const PSI_THRESHOLD = 0.1;
const PSI_BINS = 10;
const EPS = 1e-4;

export interface DriftVerdict {
  method: 'ks' | 'psi' | 'chi2';
  /** KS: the largest CDF gap D (0–1); chi²: the statistic; PSI: the index. */
  score: number;
  pValue: number | null;
  drifted: boolean;
}

/**
 * Compares a window's sketch with the reference's, with the test suited to their size and type: categorical
 * counts by chi² when small, PSI over the categories when large; numeric by two-sample KS when small, PSI over
 * the reference's deciles when large. Pure.
 */
export function compareSketches(reference: FeatureSketch, window: FeatureSketch): DriftVerdict {
  const small = Math.min(reference.count, window.count) < SMALL_SAMPLE;
  if (reference.kind === 'categorical' && window.kind === 'categorical') {
    const keys = [...new Set([...Object.keys(reference.counts), ...Object.keys(window.counts)])];
    const r = keys.map((k) => reference.counts[k] ?? 0);
    const w = keys.map((k) => window.counts[k] ?? 0);
    if (small) return chiSquare(r, w);
    const score = psi(r, w);
    return { method: 'psi', score, pValue: null, drifted: score >= PSI_THRESHOLD };
  }
  const ref = reference.kind === 'numeric' ? reference : toNumeric(reference);
  const win = window.kind === 'numeric' ? window : toNumeric(window);
  const bins = [...new Set([...Object.keys(ref.bins), ...Object.keys(win.bins)])]
    .map(Number)
    .sort((a, b) => driftBucketValue(a) - driftBucketValue(b));
  const r = bins.map((b) => ref.bins[String(b)] ?? 0);
  const w = bins.map((b) => win.bins[String(b)] ?? 0);
  if (small) return ks(r, w);
  const groups = decileGroups(r);
  const score = psi(regroup(r, groups), regroup(w, groups));
  return { method: 'psi', score, pValue: null, drifted: score >= PSI_THRESHOLD };
}

/** Two-sample KS over ordered bins; p-value from the asymptotic Kolmogorov distribution. */
export function ks(r: number[], w: number[]): DriftVerdict {
  const nr = sum(r);
  const nw = sum(w);
  let cr = 0;
  let cw = 0;
  let d = 0;
  for (let i = 0; i < r.length; i += 1) {
    cr += r[i] ?? 0;
    cw += w[i] ?? 0;
    d = Math.max(d, Math.abs(cr / nr - cw / nw));
  }
  const ne = Math.sqrt((nr * nw) / (nr + nw));
  const pValue = kolmogorovQ((ne + 0.12 + 0.11 / ne) * d);
  return { method: 'ks', score: d, pValue, drifted: pValue < P_VALUE_THRESHOLD };
}

/** Q_KS(λ) = 2 Σ (-1)^(k-1) exp(-2 k² λ²), the probability of a gap this large by chance. */
function kolmogorovQ(lambda: number): number {
  if (lambda < 1e-3) return 1;
  let total = 0;
  for (let k = 1; k <= 100; k += 1) {
    const term = 2 * (-1) ** (k - 1) * Math.exp(-2 * k * k * lambda * lambda);
    total += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, total));
}

/** Chi² test of homogeneity of two count vectors (categories seen in neither are left out). */
export function chiSquare(r: number[], w: number[]): DriftVerdict {
  const nr = sum(r);
  const nw = sum(w);
  const n = nr + nw;
  let stat = 0;
  let dof = -1;
  for (let i = 0; i < r.length; i += 1) {
    const total = (r[i] ?? 0) + (w[i] ?? 0);
    if (total === 0) continue;
    dof += 1;
    const er = (total * nr) / n;
    const ew = (total * nw) / n;
    stat += ((r[i] ?? 0) - er) ** 2 / er + ((w[i] ?? 0) - ew) ** 2 / ew;
  }
  const pValue = dof <= 0 ? 1 : 1 - regularizedGammaP(dof / 2, stat / 2);
  return { method: 'chi2', score: stat, pValue, drifted: pValue < P_VALUE_THRESHOLD };
}

/** Population stability index of two count vectors over the same bins. */
export function psi(r: number[], w: number[]): number {
  const nr = sum(r);
  const nw = sum(w);
  let total = 0;
  for (let i = 0; i < r.length; i += 1) {
    const pr = Math.max((r[i] ?? 0) / nr, EPS);
    const pw = Math.max((w[i] ?? 0) / nw, EPS);
    total += (pw - pr) * Math.log(pw / pr);
  }
  return total;
}

/** For each ordered bin, its reference decile (bins stay whole, so a heavy bin may span several deciles). */
function decileGroups(r: number[]): number[] {
  const n = sum(r);
  let seen = 0;
  return r.map((c) => {
    const group = Math.min(PSI_BINS - 1, Math.floor((seen / n) * PSI_BINS));
    seen += c;
    return group;
  });
}

function regroup(counts: number[], groups: number[]): number[] {
  const out = new Array<number>(PSI_BINS).fill(0);
  counts.forEach((c, i) => {
    const g = groups[i] ?? 0;
    out[g] = (out[g] ?? 0) + c;
  });
  return out;
}

function sum(xs: number[]): number {
  let total = 0;
  for (const x of xs) total += x;
  return total;
}

/** The regularized lower incomplete gamma P(a, x) (series below a + 1, continued fraction above). */
function regularizedGammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const lnGammaA = logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let total = term;
    for (let n = 1; n < 500; n += 1) {
      term *= x / (a + n);
      total += term;
      if (Math.abs(term) < Math.abs(total) * 1e-14) break;
    }
    return total * Math.exp(-x + a * Math.log(x) - lnGammaA);
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i += 1) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-14) break;
  }
  return 1 - Math.exp(-x + a * Math.log(x) - lnGammaA) * h;
}

/** ln Γ(x), Lanczos approximation. */
function logGamma(x: number): number {
  const g = [
    676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = 0.99999999999980993;
  for (let i = 0; i < g.length; i += 1) a += (g[i] ?? 0) / (y + i + 1);
  const t = y + g.length - 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}
