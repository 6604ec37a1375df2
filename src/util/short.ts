/**
 * Short forms of long identifiers for messages and debug lines: a release tag (a git sha) and a `sha256:` digest, cut
 * the same way everywhere so one release or layer reads the same in every line that names it.
 */

/** The first 12 characters of a release tag (a full git sha), as `git log --oneline` would show it. */
export const shortSha = (tag: string): string => tag.slice(0, 12);

/** The first 12 hex digits of a `sha256:<hex>` digest (an image ID, a diffID), as `docker images` shows them. */
export const shortDigest = (digest: string): string => digest.slice(7, 19);
