import { isId } from '@meridian/protocol';
import { and, eq, or } from 'drizzle-orm';
import { models } from '../../db/schema.js';
import { AppError, invalidField, notFound } from '../../errors.js';
import type { Reader } from '../models/deps.js';
import type { ModelRow, VersionRow } from '../models/records.js';

export type Runtime = 'onnx' | 'container';

/** A model of the caller's org by id (`mdl_…`) or by name; the id wins should a name look like an id. */
export async function resolveModel(db: Reader, orgId: string, ref: string): Promise<ModelRow> {
  const rows = await db
    .select()
    .from(models)
    .where(
      and(
        eq(models.orgId, orgId),
        isId('model', ref) ? or(eq(models.id, ref), eq(models.name, ref)) : eq(models.name, ref),
      ),
    );
  const row = rows.find((r) => r.id === ref) ?? rows[0];
  if (!row) throw notFound('Model');
  return row;
}

/** What a revision was asked to serve: a version number or an alias, resolved once when it is made. */
export interface VersionRef {
  ref: number | string;
  /** As stored on the revision: `version:3` or `alias:production`. */
  requested: string;
}

/** The one version reference of a body: `version` or `alias`, never both; undefined when neither. */
export function versionRefOf(input: { version?: number; alias?: string }): VersionRef | undefined {
  if (input.version !== undefined && input.alias !== undefined) {
    throw invalidField('alias', 'give version or alias, not both');
  }
  if (input.version !== undefined) return { ref: input.version, requested: `version:${input.version}` };
  if (input.alias !== undefined) return { ref: input.alias, requested: `alias:${input.alias}` };
  return undefined;
}

/** The onnx runtime loads ONNX files only; every other format needs a model-server image (422). */
export function assertRuntimeServes(runtime: Runtime, version: VersionRow): void {
  if (runtime === 'onnx' && version.format !== 'onnx') {
    throw new AppError(
      'unprocessable',
      `Version ${version.version} is a ${version.format} model, which the onnx runtime cannot load; ` +
        'deploy it with runtime container and an image that serves it',
    );
  }
}

/** A model-server image is what the container runtime runs, and all the onnx runtime must not be given. */
export function assertImageFits(runtime: Runtime, image: string | undefined): void {
  if (runtime === 'container' && image === undefined) {
    throw invalidField('image', 'required for runtime container: a model-server image that speaks OIP v2');
  }
  if (runtime === 'onnx' && image !== undefined) {
    throw invalidField('image', 'only runtime container takes an image; the onnx runtime is built in');
  }
}
