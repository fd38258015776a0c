import type { DesiredWorkload } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { imageMatches, imageRefusal } from './image-policy.js';
import { limitsOf } from './workload-size.js';

const model = (image: string | undefined, orgId = 'org_a'): DesiredWorkload => ({
  kind: 'model',
  workloadId: 'wl_1',
  orgId,
  deploymentId: 'dep_1',
  gpuType: 'cpu',
  gpuCount: 0,
  ...(image === undefined ? {} : { image }),
  model: {
    versionId: 'mdv_1',
    format: 'pytorch',
    runtime: 'container',
    sha256: 'a'.repeat(64),
    sizeBytes: 1,
  },
});

describe('imageMatches', () => {
  it('admits exactly a tagged or pinned entry, and every tag of a bare repository', () => {
    expect(imageMatches('ghcr.io/acme/server:1.2', 'ghcr.io/acme/server:1.2')).toBe(true);
    expect(imageMatches('ghcr.io/acme/server:1.2', 'ghcr.io/acme/server:1.3')).toBe(false);
    expect(imageMatches('ghcr.io/acme/server', 'ghcr.io/acme/server:1.3')).toBe(true);
    expect(imageMatches('ghcr.io/acme/server', 'ghcr.io/acme/server@sha256:abc')).toBe(true);
    expect(imageMatches('ghcr.io/acme/server', 'ghcr.io/acme/server-evil:1')).toBe(false);
    expect(imageMatches('ghcr.io/acme/server', 'ghcr.io/acme/server/sub:1')).toBe(false);
    // A registry port is not a tag.
    expect(imageMatches('registry:5000/acme/server', 'registry:5000/acme/server:2')).toBe(true);
    expect(imageMatches('registry:5000/acme/server', 'registry:5001/acme/server:2')).toBe(false);
  });
});

describe('imageRefusal', () => {
  const policy = {
    platform: ['meridian/notebook:1'],
    byOrg: { org_a: ['ghcr.io/a/server'], org_b: ['ghcr.io/b/x:1'] },
  };

  it('allows platform images and the org’s own list, and refuses another org’s image', () => {
    expect(imageRefusal(model('meridian/notebook:1'), policy)).toBeUndefined();
    expect(imageRefusal(model('ghcr.io/a/server:7'), policy)).toBeUndefined();
    expect(imageRefusal(model('ghcr.io/b/x:1'), policy)).toMatch(/ghcr.io\/b\/x:1 is not allowed/);
    expect(imageRefusal(model('ghcr.io/b/x:1', 'org_c'), policy)).toMatch(/not allowed/);
  });

  it('lets workloads without an image through and refuses every image when no policy came', () => {
    expect(imageRefusal(model(undefined), undefined)).toBeUndefined();
    expect(imageRefusal(model('meridian/notebook:1'), undefined)).toMatch(/no image allow-list/);
  });
});

describe('limitsOf', () => {
  const host = { cpus: 16, memoryBytes: 64 * 1024 ** 3 };
  it('sizes CPU-only and GPU workloads, never beyond the host', () => {
    expect(limitsOf({ gpuCount: 0 }, host)).toEqual({ cpus: 2, memoryBytes: 4 * 1024 ** 3, pidsLimit: 1024 });
    expect(limitsOf({ gpuCount: 1 }, host)).toMatchObject({ cpus: 8, memoryBytes: 32 * 1024 ** 3 });
    const big = limitsOf({ gpuCount: 4 }, host);
    expect(big.cpus).toBe(16);
    expect(big.memoryBytes).toBeLessThan(host.memoryBytes);
    expect(limitsOf({ gpuCount: 0 }, { cpus: 1, memoryBytes: 2 * 1024 ** 3 }).cpus).toBe(1);
  });
});
