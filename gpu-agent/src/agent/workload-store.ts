import { join } from 'node:path';
import { DesiredWorkload } from '@meridian/protocol';
import { z } from 'zod';
import { readJsonFile, writeJsonFile } from './json-file.js';

const WorkloadRecord = z.object({
  runtime: z.enum(['onnx', 'docker', 'process']),
  workload: DesiredWorkload,
});
export type WorkloadRecord = z.infer<typeof WorkloadRecord>;

const StoreFile = z.object({ workloads: z.array(WorkloadRecord) });

/**
 * The workloads this agent has started, in `<dataDir>/workloads.json`. A workload is recorded before its
 * runtime starts it and forgotten after the runtime stopped it, so after a crash the agent adopts every
 * workload that may be running and never starts a second copy.
 */
export class WorkloadStore {
  private readonly path: string;
  private records = new Map<string, WorkloadRecord>();
  private write: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    this.path = join(dataDir, 'workloads.json');
  }

  async load(): Promise<WorkloadRecord[]> {
    const file = await readJsonFile(this.path, StoreFile);
    this.records = new Map((file?.workloads ?? []).map((r) => [r.workload.workloadId, r]));
    return [...this.records.values()];
  }

  put(record: WorkloadRecord): Promise<void> {
    this.records.set(record.workload.workloadId, record);
    return this.save();
  }

  delete(workloadId: string): Promise<void> {
    this.records.delete(workloadId);
    return this.save();
  }

  /** Writes after any write already queued, so an older snapshot never lands last. */
  private save(): Promise<void> {
    const next = this.write.then(() => writeJsonFile(this.path, { workloads: [...this.records.values()] }));
    this.write = next.catch(() => undefined);
    return next;
  }
}
