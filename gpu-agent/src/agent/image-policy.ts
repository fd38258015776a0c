import type { DesiredState, DesiredWorkload } from '@meridian/protocol';

type ImagePolicy = DesiredState['images'];

/** The repository of an image reference: without its tag or digest (a registry port is not a tag). */
function repositoryOf(image: string): string {
  const at = image.indexOf('@');
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}

/**
 * Whether an allow-list entry admits `image`: an entry with a tag or digest admits exactly that reference,
 * one without (`ghcr.io/acme/server`) admits every tag and digest of the repository.
 */
export function imageMatches(entry: string, image: string): boolean {
  if (entry === image) return true;
  return repositoryOf(entry) === entry && repositoryOf(image) === entry;
}

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
