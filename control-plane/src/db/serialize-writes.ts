import type { Client, InArgs, InStatement, Transaction, TransactionMode } from '@libsql/client';

/**
 * One writer at a time inside this process, for libsql on a local file.
 *
 * Why: the local driver runs SQLite synchronously on a pool of connections. A transaction holds the
 * write lock across awaits; a second writer on another connection then either fails at once with
 * SQLITE_BUSY or, with a busy timeout, blocks the event loop that the first transaction needs to finish.
 * Queueing writers in JavaScript avoids both. Reads never queue: WAL lets them run beside a writer.
 * Inside a transaction, use its `tx` for every statement: a write on the outer client would wait for the
 * transaction that is waiting for it.
 */
export function serializeWrites(client: Client): Client {
  let tail: Promise<unknown> = Promise.resolve();
  const acquire = (): Promise<() => void> => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = tail.then(() => release);
    tail = tail.then(() => held);
    return ready;
  };
  const locked = async <T>(work: () => Promise<T>): Promise<T> => {
    const release = await acquire();
    try {
      return await work();
    } finally {
      release();
    }
  };

  return new Proxy(client, {
    get(target, property, receiver) {
      switch (property) {
        case 'execute':
          return (stmt: InStatement, args?: InArgs) => {
            const run = () =>
              typeof stmt === 'string' && args !== undefined
                ? target.execute(stmt, args)
                : target.execute(stmt);
            return isRead(stmt) ? run() : locked(run);
          };
        case 'batch':
          return (stmts: InStatement[], mode?: TransactionMode) => locked(() => target.batch(stmts, mode));
        case 'executeMultiple':
          return (sql: string) => locked(() => target.executeMultiple(sql));
        case 'migrate':
          return (stmts: InStatement[]) => locked(() => target.migrate(stmts));
        case 'transaction':
          return async (mode?: TransactionMode) => {
            if (mode === 'read') return target.transaction(mode);
            const release = await acquire();
            try {
              return releaseWhenSettled(await target.transaction(mode), release);
            } catch (err) {
              release();
              throw err;
            }
          };
        default: {
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        }
      }
    },
  });
}

function isRead(stmt: InStatement): boolean {
  const sql = typeof stmt === 'string' ? stmt : stmt.sql;
  return /^\s*(select|explain)\b/i.test(sql);
}

function releaseWhenSettled(tx: Transaction, release: () => void): Transaction {
  let released = false;
  const once = () => {
    if (!released) {
      released = true;
      release();
    }
  };
  return new Proxy(tx, {
    get(target, property, receiver) {
      if (property === 'commit' || property === 'rollback') {
        return async () => {
          try {
            await (property === 'commit' ? target.commit() : target.rollback());
          } finally {
            once();
          }
        };
      }
      if (property === 'close') {
        return () => {
          target.close();
          once();
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
