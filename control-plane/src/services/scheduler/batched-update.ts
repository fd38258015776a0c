import { type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';

/** Rows per statement: each row binds up to a dozen values, well under SQLite's bound-parameter limit. */
const ROWS_PER_STATEMENT = 200;

/** One row of a batched update: the key column's value, the columns to set, and (optionally) a guard. */
export interface RowUpdate {
  key: string;
  set: [SQLiteColumn, unknown][];
  /** Only updated while this column still holds this value (compare-and-set). */
  guard?: [SQLiteColumn, unknown];
}

type Run = (query: SQL) => Promise<unknown>;

/**
 * Updates many rows with one `UPDATE … FROM (VALUES …)` per chunk instead of one statement per row: a tick
 * that moves hundreds of replicas paid about 0.15 ms a statement (bench/scheduler.ts, 100 deployments
 * scaling at once). Rows that set the same columns share a statement; values are encoded as their columns
 * encode them (dates as milliseconds).
 */
export async function updateRows(run: Run, table: SQLiteTable, key: SQLiteColumn, rows: RowUpdate[]) {
  const groups = new Map<string, RowUpdate[]>();
  for (const row of rows) {
    if (row.set.length === 0) continue;
    const shape = [...row.set.map(([c]) => c.name), row.guard?.[0].name ?? ''].join(',');
    const group = groups.get(shape);
    if (group) group.push(row);
    else groups.set(shape, [row]);
  }
  for (const group of groups.values()) {
    for (let i = 0; i < group.length; i += ROWS_PER_STATEMENT) {
      await run(statement(table, key, group.slice(i, i + ROWS_PER_STATEMENT)));
    }
  }
}

const encode = (column: SQLiteColumn, value: unknown) =>
  value === null || value === undefined ? null : column.mapToDriverValue(value);

/** SQLite names a VALUES list's columns column1, column2, …: the key is column1, then the set, then the guard. */
function statement(table: SQLiteTable, key: SQLiteColumn, rows: RowUpdate[]): SQL {
  const [first] = rows;
  if (!first) throw new Error('no rows to update');
  const values = sql.join(
    rows.map((row) => {
      const cells = [row.key, ...row.set.map(([c, v]) => encode(c, v))];
      if (row.guard) cells.push(encode(row.guard[0], row.guard[1]));
      return sql`(${sql.join(
        cells.map((v) => sql`${v}`),
        sql`, `,
      )})`;
    }),
    sql`, `,
  );
  const assignments = sql.join(
    first.set.map(([c], i) => sql`${sql.identifier(c.name)} = v.${sql.identifier(`column${i + 2}`)}`),
    sql`, `,
  );
  const guard = first.guard
    ? sql` and ${table}.${sql.identifier(first.guard[0].name)} = v.${sql.identifier(`column${first.set.length + 2}`)}`
    : sql``;
  return sql`update ${table} set ${assignments} from (values ${values}) as v where ${table}.${sql.identifier(key.name)} = v.column1${guard}`;
}
