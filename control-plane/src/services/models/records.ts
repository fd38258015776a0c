import { and, desc, eq, inArray, max } from 'drizzle-orm';
import { modelAliases, models, modelVersions } from '../../db/schema.js';
import { AppError, conflict, notFound } from '../../errors.js';
import type { OnnxSignature } from '../../onnx/inspect.js';
import type { Reader } from './deps.js';

export type ModelRow = typeof models.$inferSelect;
export type VersionRow = typeof modelVersions.$inferSelect;
export interface AliasRef {
  modelId: string;
  alias: string;
  version: number;
  versionId: string;
}

/** The model `id` of the caller's org; another org's model is as missing as a deleted one. */
export async function findModel(db: Reader, orgId: string, id: string): Promise<ModelRow> {
  const [row] = await db
    .select()
    .from(models)
    .where(and(eq(models.orgId, orgId), eq(models.id, id)));
  if (!row) throw notFound('Model');
  return row;
}

/** A version as people name it, in the audit log as in the CLI: `ocr v3`. */
export function versionName(modelName: string, version: number): string {
  return `${modelName} v${version}`;
}

/** Aliases of the given models with the version numbers they point at. */
export async function aliasesOf(db: Reader, orgId: string, modelIds: string[]): Promise<AliasRef[]> {
  if (modelIds.length === 0) return [];
  return db
    .select({
      modelId: modelAliases.modelId,
      alias: modelAliases.alias,
      version: modelVersions.version,
      versionId: modelAliases.versionId,
    })
    .from(modelAliases)
    .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.versionId))
    .where(and(eq(modelAliases.orgId, orgId), inArray(modelAliases.modelId, modelIds)))
    .orderBy(modelAliases.alias);
}

/** The newest ready version number per model. */
export async function latestVersions(
  db: Reader,
  orgId: string,
  modelIds: string[],
): Promise<Map<string, number>> {
  if (modelIds.length === 0) return new Map();
  const rows = await db
    .select({ modelId: modelVersions.modelId, version: max(modelVersions.version) })
    .from(modelVersions)
    .where(
      and(
        eq(modelVersions.orgId, orgId),
        inArray(modelVersions.modelId, modelIds),
        eq(modelVersions.status, 'ready'),
      ),
    )
    .groupBy(modelVersions.modelId);
  return new Map(rows.flatMap((r) => (r.version === null ? [] : [[r.modelId, r.version]])));
}

export function presentModel(row: ModelRow, aliases: AliasRef[], latestVersion: number | null) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    tags: row.tags,
    latestVersion,
    aliases: aliases.filter((a) => a.modelId === row.id).map((a) => ({ alias: a.alias, version: a.version })),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function presentVersion(row: VersionRow, aliases: string[]) {
  return {
    id: row.id,
    modelId: row.modelId,
    version: row.version,
    status: row.status,
    format: row.format,
    runtime: row.runtime,
    fileName: row.fileName,
    sizeBytes: row.sizeBytes,
    sha256: row.sha256,
    // The column is loosely typed JSON; only finishVersion writes it, always with an OnnxSignature.
    signature: row.signature as OnnxSignature | null,
    description: row.description,
    tags: row.tags,
    metadata: row.metadata,
    runId: row.runId,
    aliases,
    createdAt: row.createdAt.toISOString(),
  };
}

/** `latest` names the newest ready version; it cannot be set as an alias. */
export const LATEST = 'latest';

/**
 * The 404 naming what was asked for (a version number, `latest`, or an alias) and the model it was asked of,
 * by name: "Model ocr-cls has no version 9" reads where "Model version 9 not found" left the model to guess.
 */
async function versionNotFound(db: Reader, modelId: string, ref: string | number): Promise<AppError> {
  const [model] = await db.select({ name: models.name }).from(models).where(eq(models.id, modelId));
  const name = model ? `Model ${model.name}` : 'The model';
  if (typeof ref === 'number' || /^\d+$/.test(ref)) {
    return new AppError('not_found', `${name} has no version ${Number(ref)}`);
  }
  if (ref === LATEST) {
    return new AppError('not_found', `${name} has no ready version, so "${LATEST}" names none`);
  }
  return new AppError('not_found', `${name} has no alias ${JSON.stringify(ref)}`);
}

/**
 * A version of `modelId` by number (`3`), alias (`production`) or `latest`. The model must already have
 * been found in the caller's org.
 */
export async function findVersion(db: Reader, modelId: string, ref: string | number): Promise<VersionRow> {
  const byModel = eq(modelVersions.modelId, modelId);
  let row: VersionRow | undefined;
  if (typeof ref === 'number' || /^\d+$/.test(ref)) {
    [row] = await db
      .select()
      .from(modelVersions)
      .where(and(byModel, eq(modelVersions.version, Number(ref))));
  } else if (ref === LATEST) {
    [row] = await db
      .select()
      .from(modelVersions)
      .where(and(byModel, eq(modelVersions.status, 'ready')))
      .orderBy(desc(modelVersions.version))
      .limit(1);
  } else {
    const [hit] = await db
      .select({ version: modelVersions })
      .from(modelAliases)
      .innerJoin(modelVersions, eq(modelVersions.id, modelAliases.versionId))
      .where(and(eq(modelAliases.modelId, modelId), eq(modelAliases.alias, ref)));
    row = hit?.version;
  }
  if (!row) throw await versionNotFound(db, modelId, ref);
  return row;
}

/**
 * Version `version` of `model`, which must be the version `versionId` where the caller names one. A refused
 * or deleted upload gives its number back (reserveVersion), so a client acting on an upload it started
 * names the upload by id: by now the number alone may be another upload's (409). No id: the number decides.
 */
export async function findOwnVersion(
  db: Reader,
  model: ModelRow,
  version: number,
  versionId: string | undefined,
): Promise<VersionRow> {
  const row = await findVersion(db, model.id, version);
  if (versionId !== undefined && row.id !== versionId) {
    throw conflict(`Version ${version} of model ${model.name} is another upload now; start the upload again`);
  }
  return row;
}

/** Names of the aliases pointing at one version. */
export async function aliasNamesOf(db: Reader, versionId: string): Promise<string[]> {
  const rows = await db
    .select({ alias: modelAliases.alias })
    .from(modelAliases)
    .where(eq(modelAliases.versionId, versionId))
    .orderBy(modelAliases.alias);
  return rows.map((r) => r.alias);
}

export function requireReady(row: VersionRow): void {
  if (row.status !== 'ready') {
    throw new AppError('conflict', `Version ${row.version} is ${row.status}, not ready`);
  }
}
