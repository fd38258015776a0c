import type { components, operations, paths } from './generated/openapi.js';

export type { components, operations, paths };

/** The API's named schemas (`Schema<'Deployment'>`), as the control plane's OpenAPI document defines them. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Paths that have an operation for `M`. */
export type PathsFor<M extends Method> = {
  [P in keyof paths]: paths[P][M] extends { responses: unknown } ? P : never;
}[keyof paths];

export type Operation<P extends keyof paths, M extends Method> = paths[P][M];

type ParamsOf<O> = O extends { parameters: infer Params } ? Params : never;
type Section<O, K extends 'path' | 'query'> =
  ParamsOf<O> extends { [key in K]?: infer S } ? ([S] extends [undefined | never] ? never : S) : never;

type JsonRequest<O> = O extends { requestBody?: infer Body }
  ? [NonNullable<Body>] extends [never]
    ? never
    : NonNullable<Body> extends { content: { 'application/json': infer B } }
      ? B
      : never
  : never;

/** What `request` takes: path and query parameters and a JSON body, each only where the operation has one. */
export type RequestOptions<O> = ([Section<O, 'path'>] extends [never]
  ? { path?: never }
  : { path: Section<O, 'path'> }) &
  ([Section<O, 'query'>] extends [never] ? { query?: never } : { query?: Section<O, 'query'> }) &
  ([JsonRequest<O>] extends [never] ? { body?: never } : { body: JsonRequest<O> }) & {
    /** A raw body (uploads) instead of JSON. */
    raw?: { body: BodyInit; contentType: string };
    /** More request headers, e.g. an operation's Idempotency-Key. */
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : undefined;

/** The JSON of the operation's 2xx answer (undefined for 204). */
export type Success<O> = O extends { responses: infer R }
  ? { [S in keyof R]: S extends 200 | 201 | 202 | 204 ? JsonOf<R[S]> : never }[keyof R]
  : never;
