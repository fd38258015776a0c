import { newId } from '@meridian/protocol';

// Files and batch jobs mint ids with the protocol's ULID layout (sortable for keyset paging) under their own
// prefixes, which protocol's ID_PREFIXES does not list yet.

/** `file_<26>`. */
export const newFileId = () => `file_${newId('request').slice(4)}`;
/** `batch_<26>`. */
export const newBatchJobId = () => `batch_${newId('request').slice(4)}`;

function segment(id: string): string {
  if (!/^[a-z]+_[0-9a-z]{26}$/.test(id)) throw new Error(`Not an id: ${JSON.stringify(id)}`);
  return id;
}

/** Object key of a stored file, built from ids only. */
export const fileObjectKey = (orgId: string, fileId: string) =>
  `orgs/${segment(orgId)}/files/${segment(fileId)}`;
