import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '../db/client.js';
import { actorOf, requireOperatorToken } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import {
  addPlatformImage,
  allowImage,
  disallowImage,
  listAllowedImages,
  listPlatformImages,
  removePlatformImage,
} from '../services/images/images.js';
import { ImageRef } from './deployments-schemas.js';
import type { RouteDeps } from './deps.js';

const ImageBody = z.strictObject({
  image: ImageRef.openapi({
    description: 'A full reference (`repo:tag`, `repo@sha256:…`), or a repository, which admits all its tags',
  }),
});
const ImageQuery = z.object({ image: ImageRef });
const AllowedImages = z
  .object({
    platform: z.array(z.string()).openapi({ description: 'Platform images: every org may run them' }),
    items: z.array(z.object({ image: z.string(), createdAt: z.string() })),
  })
  .openapi('AllowedImages');
const PlatformImages = z.object({ items: z.array(z.string()) }).openapi('PlatformImages');

/**
 * The images an org's notebooks and model servers may run: platform images plus its own allow-list, which
 * its owners and admins manage. Agents refuse any other image, whatever is on the host.
 */
export function imageRoutes(deps: RouteDeps) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['images'] };
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/allowed-images',
    operationId: 'listAllowedImages',
    summary: 'Images the organisation may run: platform images and its own allow-list',
    responses: { 200: jsonContent(AllowedImages, 'The lists'), ...errors(401, 403) },
  });
  const allow = createRoute({
    ...common,
    method: 'post',
    path: '/v1/allowed-images',
    operationId: 'allowImage',
    summary: 'Owners and admins: allow an image (or a repository) for the organisation',
    request: jsonBody(ImageBody),
    responses: {
      201: jsonContent(AllowedImages, 'Allowed; allowed already is fine'),
      ...errors(401, 403, 409),
    },
  });
  const disallow = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/allowed-images',
    operationId: 'disallowImage',
    summary: 'Owners and admins: take an image off the allow-list (running workloads keep running)',
    request: { query: ImageQuery },
    responses: { 204: { description: 'Removed' }, ...errors(401, 403, 404) },
  });
  return newRouter()
    .openapi(list, async (c) => c.json(await listAllowedImages(deps.db, actorOf(c)), 200))
    .openapi(allow, async (c) =>
      c.json(await allowImage(deps.db, actorOf(c), c.req.valid('json').image), 201),
    )
    .openapi(disallow, async (c) => {
      await disallowImage(deps.db, actorOf(c), c.req.valid('query').image);
      return c.body(null, 204);
    });
}

/** Operators: the platform images every org may run. */
export function internalImageRoutes({ db, operatorToken }: { db: Database; operatorToken: string }) {
  const common = {
    tags: ['internal'],
    security: [{ operatorToken: [] }],
    middleware: requireOperatorToken(operatorToken),
  };
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/internal/v1/platform-images',
    operationId: 'listPlatformImages',
    summary: 'Operators only: the platform images',
    responses: { 200: jsonContent(PlatformImages, 'Platform images'), ...errors(401) },
  });
  const add = createRoute({
    ...common,
    method: 'post',
    path: '/internal/v1/platform-images',
    operationId: 'addPlatformImage',
    summary: 'Operators only: add a platform image every org may run',
    request: jsonBody(ImageBody),
    responses: { 201: jsonContent(PlatformImages, 'Added; added already is fine'), ...errors(401) },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/internal/v1/platform-images',
    operationId: 'removePlatformImage',
    summary: 'Operators only: remove a platform image',
    request: { query: ImageQuery },
    responses: { 204: { description: 'Removed' }, ...errors(401, 404) },
  });
  return newRouter()
    .openapi(list, async (c) => c.json({ items: await listPlatformImages(db) }, 200))
    .openapi(add, async (c) => c.json({ items: await addPlatformImage(db, c.req.valid('json').image) }, 201))
    .openapi(remove, async (c) => {
      await removePlatformImage(db, c.req.valid('query').image);
      return c.body(null, 204);
    });
}
