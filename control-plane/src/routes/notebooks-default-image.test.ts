import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';
import { loadConfig } from '../config.js';
import { imagePolicyFor } from '../services/images/images.js';
import { DEFAULT_NOTEBOOK_IMAGE } from '../services/notebooks/deps.js';

// The default notebook image: the one scripts/build-notebook-image.sh builds on each docker host (no registry
// is reachable here), unless the operator names another with MERIDIAN_NOTEBOOK_IMAGE. Either way every org
// may run it: a notebook created without an image must never be refused by its agent.
const script = resolve(import.meta.dirname, '../../../scripts/build-notebook-image.sh');

describe('the default notebook image', () => {
  it('is the image the build script makes', () => {
    const built = /^IMAGE=(\S+)$/m.exec(readFileSync(script, 'utf8'))?.[1];
    expect(built).toBe(DEFAULT_NOTEBOOK_IMAGE);
    expect(DEFAULT_NOTEBOOK_IMAGE).toBe('meridian/notebook:1');
  });

  it('comes from MERIDIAN_NOTEBOOK_IMAGE, which must be an image reference', () => {
    expect(loadConfig({}).notebookImage).toBe(DEFAULT_NOTEBOOK_IMAGE);
    expect(
      loadConfig({ MERIDIAN_NOTEBOOK_IMAGE: 'quay.io/jupyter/base-notebook:2024-05-27' }).notebookImage,
    ).toBe('quay.io/jupyter/base-notebook:2024-05-27');
    for (const bad of ['', 'Jupyter Notebook', '-rm', 'x'.repeat(513)]) {
      expect(() => loadConfig({ MERIDIAN_NOTEBOOK_IMAGE: bad }), bad).toThrow(/MERIDIAN_NOTEBOOK_IMAGE/);
    }
  });

  it('is what a notebook created without an image runs, a platform image agents accept for any org', async () => {
    const t = await createTestApp();
    try {
      const owner = await t.client.register('owner');
      const created = await t.client.call('POST', '/v1/notebooks', {
        token: owner.accessToken,
        body: { name: 'scratch', gpuType: 'cpu' },
      });
      expect(created.status, created.text).toBe(201);
      expect(created.json.image).toBe('meridian/notebook:1');
      const listed = await t.client.call('GET', '/v1/allowed-images', { token: owner.accessToken });
      expect(listed.json.platform).toContain('meridian/notebook:1');
      expect((await imagePolicyFor(t.db, [owner.orgId])).platform).toContain('meridian/notebook:1');
    } finally {
      t.cleanup();
    }
  });

  it('is the operator’s image when MERIDIAN_NOTEBOOK_IMAGE names one, and that one becomes a platform image', async () => {
    const image = 'ghcr.io/acme/notebook:7';
    const t = await createTestApp({ notebookImage: image });
    try {
      const owner = await t.client.register('owner');
      const created = await t.client.call('POST', '/v1/notebooks', {
        token: owner.accessToken,
        body: { name: 'scratch', gpuType: 'cpu' },
      });
      expect(created.status, created.text).toBe(201);
      expect(created.json.image).toBe(image);
      // Asked for by name too, it is allowed without the org listing it.
      const named = await t.client.call('POST', '/v1/notebooks', {
        token: owner.accessToken,
        body: { name: 'named', gpuType: 'cpu', image },
      });
      expect(named.status, named.text).toBe(201);
      expect((await imagePolicyFor(t.db, [owner.orgId])).platform).toEqual(
        expect.arrayContaining([image, DEFAULT_NOTEBOOK_IMAGE]),
      );
    } finally {
      t.cleanup();
    }
  });

  it('is named in the API description', async () => {
    const t = await createTestApp();
    try {
      const doc = JSON.stringify((await t.client.call('GET', '/openapi.json')).json);
      expect(doc).toContain('MERIDIAN_NOTEBOOK_IMAGE; unset: meridian/notebook:1');
      expect(doc).not.toContain('quay.io/jupyter/base-notebook');
    } finally {
      t.cleanup();
    }
  });
});
