import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogRing } from './log-ring.js';
import { WorkloadLogs } from './workload-logs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workload-logs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LogRing', () => {
  it('keeps the newest lines within both its line and its byte bound', () => {
    const ring = new LogRing(100, 10_000);
    for (let seq = 1; seq <= 1_000; seq++)
      ring.push({ seq, time: seq, stream: 'output', line: 'x'.repeat(seq % 50) });
    expect(ring.bytes).toBeLessThanOrEqual(10_000);
    expect(ring.size).toBeLessThanOrEqual(100);
    const held = ring.filter(() => true);
    expect(held.at(-1)?.seq).toBe(1_000);
    expect(held.map((l) => l.seq)).toEqual(held.map((_, i) => (held[0]?.seq ?? 0) + i));
  });
});

describe('WorkloadLogs', () => {
  it('numbers lines, cuts a byte stream into lines across chunks and characters, and reads tail and since', () => {
    const logs = new WorkloadLogs(dir, {}, () => 1_000);
    const out = logs.writer('wl_a', 'stdout');
    const euro = Buffer.from('€');
    out.write(Buffer.concat([Buffer.from('one\ntw'), euro.subarray(0, 1)]));
    out.write(Buffer.concat([euro.subarray(1), Buffer.from('o\r\nthree')])); // the last line has no end yet
    expect(logs.read('wl_a', {}).map((l) => [l.seq, l.line])).toEqual([
      [1, 'one'],
      [2, 'tw€o'],
    ]);
    out.end();
    expect(logs.read('wl_a', { tail: 1 })).toEqual([
      { seq: 3, time: 1_000, stream: 'stdout', line: 'three' },
    ]);
    expect(logs.read('wl_a', { sinceSeq: 1 }).map((l) => l.seq)).toEqual([2, 3]);
    expect(logs.read('wl_a', { sinceMs: 1_001 })).toEqual([]);
    expect(logs.read('wl_other', {})).toEqual([]);
  });

  it('never stores a secret it was told of', () => {
    const logs = new WorkloadLogs(dir);
    logs.redact('wl_nb', ['0123456789abcdef']);
    logs.append('wl_nb', 'output', 'http://127.0.0.1/lab?token=0123456789abcdef');
    logs.close();
    expect(logs.read('wl_nb', {})[0]?.line).toBe('http://127.0.0.1/lab?token=[redacted]');
    expect(new WorkloadLogs(dir).read('wl_nb', {})[0]?.line).toBe('http://127.0.0.1/lab?token=[redacted]');
  });

  it('hides the credentials of a signed URL that an error of the agent quotes', () => {
    const logs = new WorkloadLogs(dir);
    logs.append(
      'wl_m',
      'agent',
      'failed: GET https://s3/x?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc123 answered 403',
    );
    expect(logs.read('wl_m', {})[0]?.line).toBe(
      'failed: GET https://s3/x?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted] answered 403',
    );
  });

  it('keeps its lines across a restart, in 0600 files, and goes on numbering after them', async () => {
    const first = new WorkloadLogs(dir);
    for (let i = 0; i < 5; i++) first.append('wl/odd id', 'agent', `line ${i}`);
    first.close();
    const files = await readdir(dir);
    expect(files).toEqual([`${encodeURIComponent('wl/odd id')}.log`]);
    expect((await stat(join(dir, files[0] ?? ''))).mode & 0o777).toBe(0o600);
    const again = new WorkloadLogs(dir);
    again.append('wl/odd id', 'agent', 'after restart');
    expect(again.read('wl/odd id', { tail: 2 }).map((l) => [l.seq, l.line])).toEqual([
      [5, 'line 4'],
      [6, 'after restart'],
    ]);
  });

  it('holds 100 MB of output within its stated memory and disk bounds', async () => {
    const limits = { maxBytes: 256 * 1024, maxLines: 2_000, maxFileBytes: 512 * 1024 };
    const logs = new WorkloadLogs(dir, limits);
    const out = logs.writer('wl_flood', 'output');
    const chunk = Buffer.from(`${'y'.repeat(99)}\n`.repeat(10_000)); // 1 MB, 10,000 lines
    let highest = 0;
    for (let i = 0; i < 100; i++) {
      out.write(chunk);
      highest = Math.max(highest, logs.bytesHeld('wl_flood'));
    }
    logs.close();
    expect(highest).toBeLessThanOrEqual(limits.maxBytes);
    const lines = logs.read('wl_flood', { tail: 10_000 });
    expect(lines.at(-1)?.seq).toBe(1_000_000);
    expect(lines.length).toBeLessThanOrEqual(limits.maxLines);
    // Two files at most, each within the bound (plus one flush's batch).
    const sizes = await Promise.all((await readdir(dir)).map(async (f) => (await stat(join(dir, f))).size));
    expect(sizes).toHaveLength(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(limits.maxFileBytes + 300 * 1024);
    const last = (await readFile(join(dir, 'wl_flood.log'), 'utf8')).trim().split('\n').at(-1) ?? '';
    expect(JSON.parse(last)).toMatchObject({ seq: 1_000_000, stream: 'output' });
  }, 180_000);

  it('cuts a line that never ends instead of holding it', () => {
    const logs = new WorkloadLogs(dir, { maxLineChars: 1_000 });
    const out = logs.writer('wl_long', 'output');
    for (let i = 0; i < 100; i++) out.write('z'.repeat(100));
    expect(logs.read('wl_long', {}).map((l) => l.line.length)).toEqual(Array(10).fill(1_000));
  });

  it('tells subscribers of each new line until they leave', () => {
    const logs = new WorkloadLogs(dir);
    const seen: string[] = [];
    const leave = logs.subscribe('wl_s', (l) => seen.push(l.line));
    logs.append('wl_s', 'agent', 'a');
    leave();
    logs.append('wl_s', 'agent', 'b');
    expect(seen).toEqual(['a']);
  });
});
