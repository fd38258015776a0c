import type { UsageRecord } from '@meridian/protocol';

/** Where a group goes: one durable write for all its records (the org limiter's `record`). */
export type UsageSink = (records: UsageRecord[]) => Promise<void>;

interface Group {
  records: UsageRecord[];
  committed: Promise<void>;
}

/**
 * Group commit of usage records per org: while one write is in flight, every record that arrives joins the
 * next group, which is written in one call as soon as the running one ends. Each caller's promise settles
 * when the write holding its record has (durable), so many concurrent calls share one write, and a lone
 * call pays exactly one.
 */
export class UsageGroupCommit {
  private readonly next = new Map<string, Group>();
  private readonly running = new Map<string, Promise<void>>();

  record(orgId: string, record: UsageRecord, sink: UsageSink): Promise<void> {
    let group = this.next.get(orgId);
    if (!group) {
      const prior = this.running.get(orgId) ?? Promise.resolve();
      const records: UsageRecord[] = [];
      const committed = prior.catch(() => undefined).then(() => this.start(orgId, records, sink));
      group = { records, committed };
      this.next.set(orgId, group);
    }
    group.records.push(record);
    return group.committed;
  }

  private start(orgId: string, records: UsageRecord[], sink: UsageSink): Promise<void> {
    if (this.next.get(orgId)?.records === records) this.next.delete(orgId);
    const write = sink(records);
    this.running.set(orgId, write);
    const clear = () => {
      if (this.running.get(orgId) === write) this.running.delete(orgId);
    };
    write.then(clear, clear);
    return write;
  }
}
