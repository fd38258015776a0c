import { readFileSync } from 'node:fs';

/** A process's resident set size in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS every 10 ms until stopped; `stop` answers the baseline and the peak seen. */
export function sampleRss(pid: number) {
  const baseline = rssBytes(pid);
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, rssBytes(pid));
      return { baseline, peak, growth: peak - baseline };
    },
  };
}
