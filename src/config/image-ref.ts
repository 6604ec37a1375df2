/**
 * Image references as Docker parses them (distribution/reference): `[registry[:port]/]path[:tag][@digest]`.
 * Every image name in boxship.yml ends up as one word of a `docker` command on a host, so a value that is not a
 * reference (`--privileged`, `a b`, `-v /:/host`) must be refused here, before it can be read as a flag.
 */

export type ImageRefResult = { ok: true; name: string; tag?: string; digest?: string } | { ok: false; message: string };

// distribution/reference's grammar, piece by piece.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9A-Fa-f:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[_.]|__|[-]+)[a-z0-9]+)*';
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;
const NAME_MAX = 255;

export const IMAGE_REF_FORMAT = 'an image reference like name:tag, registry.example.com:5000/team/name:tag or name@sha256:<64 hex>';

export function parseImageRef(text: string): ImageRefResult {
  const bad = (why: string): ImageRefResult => ({ ok: false, message: `expected ${IMAGE_REF_FORMAT} (${why})` });
  if (text === '') return bad('it is empty');
  if (text.startsWith('-')) return bad('it starts with "-", so docker would read it as an option');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point of this check.
  if (/[\s\0-\x1f\x7f]/.test(text)) return bad('it contains a space or a control character');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) return bad(`"${digest}" is not a digest such as sha256:<64 hex>`);
  }
  // A tag follows the last ":" that comes after the last "/" (a ":" before it belongs to a registry port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return bad(`"${tag}" is not a tag: letters, digits, _ . - and at most 128 characters`);
  }
  const name = rest;
  if (name.length > NAME_MAX) return bad(`the name is longer than ${NAME_MAX} characters`);
  const parts = name.split('/');
  // As in Docker: the first part is a registry when it looks like a host (has "." or ":", or is localhost).
  const first = parts[0]!;
  const hasDomain = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  if (hasDomain && !DOMAIN_RE.test(first)) return bad(`"${first}" is not a registry host[:port]`);
  for (const part of hasDomain ? parts.slice(1) : parts) {
    if (!PATH_COMPONENT_RE.test(part)) {
      return bad(`"${part}" is not a valid name part: lowercase letters and digits, separated by . _ __ or -`);
    }
  }
  return { ok: true, name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}
