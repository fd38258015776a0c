import { sql } from 'drizzle-orm';
import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

// Which container images agents may run: the platform's own (managed by operators) and, per org, an
// allow-list its owners and admins manage. Agents refuse any other image (issue 17).

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

/** Images every org may run (notebook and model-server images the platform builds). */
export const platformImages = sqliteTable('platform_images', {
  /** A full reference (`repo:tag`, `repo@sha256:…`) or a repository, which admits all its tags. */
  image: text('image').primaryKey(),
  createdAt: createdAt(),
});

/** One org's allow-list. No foreign key: an org's rows go with it by the org id, and the list is small. */
export const orgAllowedImages = sqliteTable(
  'org_allowed_images',
  {
    orgId: text('org_id').notNull(),
    image: text('image').notNull(),
    /** The user or key that added it (for the audit trail beside the audit log). */
    addedBy: text('added_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.image] })],
);
