import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startPatientControlPlane } from './stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlaneUrl: string;
  }
}

/** Global setup of the sdk-workerd project: a real control plane (in Node) that the tests in workerd call. */
export default async function setup(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), 'sdk-workerd-'));
  const cp = await startPatientControlPlane(join(dir, 'cp'));
  project.provide('controlPlaneUrl', cp.url);
  return async () => {
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
