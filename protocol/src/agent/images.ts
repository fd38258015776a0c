/** The repository of an image reference: without its tag or digest (a registry port is not a tag). */
function repositoryOf(image: string): string {
  const at = image.indexOf('@');
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}

/**
 * Whether an allow-list entry admits `image`: an entry with a tag or digest admits exactly that reference,
 * one without (`ghcr.io/acme/server`) admits every tag and digest of the repository. The control plane
 * (at creation) and the agent (at start) apply this one rule.
 */
export function imageMatches(entry: string, image: string): boolean {
  if (entry === image) return true;
  return repositoryOf(entry) === entry && repositoryOf(image) === entry;
}
