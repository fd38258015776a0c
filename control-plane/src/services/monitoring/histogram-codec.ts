import { emptyHistogram, LATENCY_BUCKETS, type LatencyHistogram } from '@meridian/protocol';

/** A histogram's bucket counts as stored: comma-separated, '' when every bucket is empty. */
export function encodeCounts(h: LatencyHistogram): string {
  return h.counts.some((c) => c > 0) ? h.counts.join(',') : '';
}

/** The stored form back into a histogram; a malformed value reads as empty (it was written by us). */
export function decodeHistogram(counts: string, sumMs: number): LatencyHistogram {
  const h = emptyHistogram();
  if (counts === '') return h;
  const parts = counts.split(',');
  if (parts.length !== LATENCY_BUCKETS) return h;
  h.counts = parts.map((p) => Number(p) || 0);
  h.sumMs = sumMs;
  return h;
}
