import { type DesiredState, type DesiredWorkload, imageMatches } from '@meridian/protocol';

export { imageMatches };

type ImagePolicy = DesiredState['images'];

/**
 * Why the agent refuses to run `workload`'s container image, or undefined when it may: the image must be a
 * platform image or on its org's allow-list. A desired state without a policy allows no image at all.
 */
export function imageRefusal(workload: DesiredWorkload, policy: ImagePolicy): string | undefined {
  const image = workload.image;
  if (image === undefined) return undefined;
  if (!policy) return `image ${image} refused: the control plane sent no image allow-list`;
  const allowed = [...policy.platform, ...(workload.orgId ? (policy.byOrg[workload.orgId] ?? []) : [])];
  if (allowed.some((entry) => imageMatches(entry, image))) return undefined;
  return `image ${image} is not allowed: it is neither a platform image nor on the organisation's allow-list`;
}
