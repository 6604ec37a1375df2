/**
 * The build context: the files sent to the engine, after .dockerignore. With a tar body (`POST /build`), the engine
 * does not apply .dockerignore itself (the CLI normally does), so it is applied here. The same selection gives the
 * file list the pinning checks look at, so they judge exactly what the build sees.
 */
import dockerignoreModule from '@balena/dockerignore';
import { readFile, readdir, lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tarFs from 'tar-fs';
import { InputError } from '../util/errors.js';

export interface BuildContext {
  /** Absolute context folder. */
  dir: string;
  /** Files and symlinks that are sent, relative, forward slashes, sorted. */
  files: string[];
  /** Folders that are sent: not ignored themselves, or holding something that is. */
  dirs: string[];
  /** Name of the Dockerfile inside the tar: what `dockerfile` must be set to in the build request. */
  dockerfileName: string;
  /** When the Dockerfile lives outside the context, its contents, added to the tar under dockerfileName. */
  outsideDockerfile?: Buffer;
}

/** Where a Dockerfile from outside the context goes in the tar; an unlikely name, checked for collisions. */
const OUTSIDE_NAME = '.boxship.Dockerfile';

function toPosix(rel: string): string {
  return rel.split(path.sep).join('/');
}

/**
 * Walk the context applying .dockerignore. An ignored folder is not entered unless the ignore file has exceptions
 * (`!pattern`): Docker lets an exception re-include a file under an ignored folder, and skipping node_modules-sized
 * trees matters when there are none.
 */
export async function selectContext(contextDir: string, dockerfilePath: string): Promise<BuildContext> {
  const dir = path.resolve(contextDir);
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new InputError(`build context ${dir} is not a folder`, { hint: 'check build.context in boxship.yml' });
  const dfAbs = path.resolve(dockerfilePath);
  const dfStat = await lstat(dfAbs).catch(() => undefined);
  if (!dfStat?.isFile()) throw new InputError(`Dockerfile ${dfAbs} does not exist`, { hint: 'check build.dockerfile in boxship.yml' });

  const ignoreText = await readFile(path.join(dir, '.dockerignore'), 'utf8').catch(() => '');
  const patterns = ignoreText.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  // The package is CommonJS typed as an ES default export; its factory is also on `.default`, which both agree on.
  const matcher = dockerignoreModule.default({ ignorecase: false }).add(patterns);
  const hasExceptions = patterns.some((p) => p.startsWith('!'));

  const dfRel = path.relative(dir, dfAbs);
  const inside = !dfRel.startsWith('..') && !path.isAbsolute(dfRel);
  // Docker always sends these two, even when .dockerignore lists them: the engine needs them to build.
  const alwaysKept = new Set(['.dockerignore', ...(inside ? [toPosix(dfRel)] : [])]);

  const files: string[] = [];
  const dirs: string[] = [];
  const walk = async (relDir: string): Promise<boolean> => {
    let kept = false;
    const entries = await readdir(path.join(dir, relDir), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      const ignored = matcher.ignores(rel) && !alwaysKept.has(rel);
      if (entry.isDirectory()) {
        if (ignored && !hasExceptions) continue;
        const before = dirs.length;
        const hasKept = await walk(rel);
        if (!ignored || hasKept) {
          dirs.splice(before, 0, rel); // parent before its children, as in a tar
          kept = true;
        }
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        if (ignored) continue;
        files.push(rel);
        kept = true;
      }
      // Sockets, fifos and devices cannot go in a build context; Docker skips them too.
    }
    return kept;
  };
  await walk('');

  let dockerfileName = toPosix(dfRel);
  let outsideDockerfile: Buffer | undefined;
  if (!inside) {
    dockerfileName = OUTSIDE_NAME;
    while (files.includes(dockerfileName)) dockerfileName = `_${dockerfileName}`;
    outsideDockerfile = await readFile(dfAbs);
  }
  return { dir, files, dirs, dockerfileName, outsideDockerfile };
}

/**
 * The selected context as an uncompressed tar stream (the engine socket is local; gzip would only cost CPU).
 * Owner is root (uid/gid 0) so that the image does not depend on who ran the build.
 */
export function packContext(ctx: BuildContext): Readable {
  const keep = new Set([...ctx.files, ...ctx.dirs]);
  const extra = ctx.outsideDockerfile;
  const options: tarFs.PackOptions & { sort: boolean } = {
    sort: true,
    // tar-fs calls ignore with absolute paths; everything not selected is left out.
    ignore: (abs: string) => !keep.has(toPosix(path.relative(ctx.dir, abs))),
    map: (header) => ({ ...header, uid: 0, gid: 0 }),
    finalize: extra === undefined,
    finish: (pack) => {
      if (extra === undefined) return;
      pack.entry({ name: ctx.dockerfileName, mode: 0o644, size: extra.length, uid: 0, gid: 0 }, extra);
      pack.finalize();
    },
  };
  return tarFs.pack(ctx.dir, options) as unknown as Readable;
}
