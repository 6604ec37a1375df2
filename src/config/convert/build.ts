/**
 * `build:` checks that need the file system: the context is a folder, the Dockerfile a file inside it, and each
 * build.include entry a file inside the context that is no secrets file (it would be baked into a layer that every
 * host, and anyone who can pull the image, can read).
 */
import path from 'node:path';
import type { RawConfig } from '../schema.js';
import { type At, isOutside, kind, PATH_HINT, resolvePath } from './common.js';

/** The absolute context folder and Dockerfile, each checked. */
export function buildPaths(raw: RawConfig['build'], dir: string, at: At): { context: string; dockerfile: string } {
  const context = resolvePath(raw.context, dir);
  const dockerfile = path.resolve(context, raw.dockerfile);
  if (kind(context) !== 'dir') {
    at(['build', 'context'], `folder not found: ${context}`, `set build.context to the folder docker build runs in; ${PATH_HINT}`);
  } else {
    // When build.dockerfile is not written, the Locator points at the nearest thing that is (build, or the top).
    const where = ['build', 'dockerfile'];
    if (isOutside(path.relative(context, dockerfile))) {
      at(where, `${dockerfile} is outside the build context ${context}`, 'build.dockerfile is relative to build.context and must stay inside it');
    } else if (kind(dockerfile) !== 'file') {
      at(where, `Dockerfile not found: ${dockerfile}`, 'set build.dockerfile to its path relative to build.context (default "Dockerfile")');
    }
  }
  return { context, dockerfile };
}

/** The secrets files of boxship.yml (absolute), each with the key that names it in messages. */
export interface SecretsFiles {
  app?: string;
  /** Absolute path -> accessory name. */
  accessories: Map<string, string>;
}

/** build.include as context-relative paths with forward slashes; entries with a problem are left out. */
export function includedFiles(entries: string[], context: string, secrets: SecretsFiles, at: At): string[] {
  const include: string[] = [];
  entries.forEach((entry, i) => {
    const where = ['build', 'include', i];
    const abs = path.resolve(context, entry);
    const rel = path.relative(context, abs);
    if (rel === '' || isOutside(rel)) {
      return at(where, `${entry} is outside the build context ${context}`, 'build.include names files inside build.context, relative to it');
    }
    if (secrets.app !== undefined && abs === secrets.app) {
      return at(
        where,
        `${entry} is the secrets file (app.secrets_file): it must never be part of an image`,
        'remove it from build.include; the app gets its values as environment variables at run time',
      );
    }
    if (secrets.accessories.has(abs)) {
      return at(
        where,
        `${entry} is the secrets file of accessory ${secrets.accessories.get(abs)}: it must never be part of an image`,
        'remove it from build.include; the accessory gets its values as environment variables at run time',
      );
    }
    const found = kind(abs);
    if (found !== 'file') {
      return at(
        where,
        found === 'dir' ? `${abs} is a folder, expected a file` : `file not found: ${abs}`,
        'name each file on its own, relative to build.context',
      );
    }
    include.push(rel.split(path.sep).join('/'));
  });
  return include;
}
