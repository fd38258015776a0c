import type { batchShards } from '../../db/schema.js';
import type { LineResult } from './checkpoint.js';
import type { BatchDeps } from './deps.js';
import { MAX_LINE_BYTES } from './deps.js';
import { type LineContext, sendLine } from './dispatch.js';
import { readLines } from './line-reader.js';
import { type LineTarget, parseLine, type ValidLine } from './lines.js';
import { errorLine, outputLine } from './results.js';

type ShardRow = typeof batchShards.$inferSelect;

/** A shard's valid lines, read back from the input file by byte range (refused lines were recorded already). */
export async function readShardLines(
  deps: Pick<BatchDeps, 'store'>,
  objectKey: string,
  shard: ShardRow,
  target: LineTarget,
): Promise<{ number: number; line: ValidLine }[]> {
  const object = await deps.store.get(objectKey, { start: shard.startByte, end: shard.endByte - 1 });
  if (!object) throw new Error('the input file is gone');
  const lines: { number: number; line: ValidLine }[] = [];
  for await (const raw of readLines(object.body, {
    maxLineBytes: MAX_LINE_BYTES,
    firstLine: shard.firstLine,
    firstByte: shard.startByte,
  })) {
    if (raw.tooLong || raw.text.trim() === '') continue;
    const parsed = parseLine(raw.text, target);
    if (parsed.ok) lines.push({ number: raw.number, line: parsed });
  }
  return lines;
}

/**
 * Sends a shard's lines with at most `concurrency` in flight and at most `limit` sent (the quota left). Stops
 * taking new lines once `ctx.signal` aborts; lines in flight then are dropped (a re-run or no one answers
 * them). `complete` says every line has its result.
 */
export async function runLines(
  ctx: LineContext,
  lines: { number: number; line: ValidLine }[],
  options: { concurrency: number; limit: number; deploymentName: string },
): Promise<{ results: LineResult[]; complete: boolean }> {
  const results: LineResult[] = [];
  let next = 0;
  const worker = async () => {
    while (!ctx.signal.aborted && next < lines.length && next < options.limit) {
      const item = lines[next++];
      if (!item) return;
      const answer = await sendLine(ctx, item.line);
      if (answer === 'aborted') return;
      const { customId, simple } = item.line;
      results.push(
        answer.ok
          ? {
              line: item.number,
              ok: true,
              text: outputLine(item.number, customId, answer, simple, options.deploymentName),
              bytesIn: answer.bytesIn,
              bytesOut: answer.bytesOut,
            }
          : {
              line: item.number,
              ok: false,
              text: errorLine(item.number, customId, answer),
              bytesIn: 0,
              bytesOut: 0,
            },
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  return { results, complete: results.length === lines.length };
}
