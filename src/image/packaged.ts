/**
 * The images boxship builds from Dockerfiles it carries in its package (dockerfiles/proxy, dockerfiles/proxy-caddy-2.11):
 * its own proxy images, `boxship-proxy:<tag>`. A user never has to run `docker build` for them: when neither a host
 * nor this machine has one, it is built here with BuildKit through the Engine API (as a release is) and shipped.
 *
 * Each built image carries a label with the sha256 of the Dockerfile it came from (the Dockerfile is the whole build
 * context: these COPY nothing), so an image built from an older boxship's Dockerfile under the same tag is known to be
 * stale, here and on a host, and is rebuilt and shipped again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import tarStream from 'tar-stream';
import { BoxshipError, errorMessage } from '../util/errors.js';
import type { Report } from '../util/events.js';
import { resolveLocalImageIds } from './build.js';
import { followBuild } from './buildkit-progress.js';
import { pinnableRefs } from './pinning.js';

/** The label on a packaged image: `sha256:<hex>` of the Dockerfile it was built from. */
export const DOCKERFILE_LABEL = 'dev.boxship.dockerfile';

const REPOSITORY = 'boxship-proxy';

/**
 * Which tags of boxship-proxy each packaged Dockerfile builds: the tag itself, or the tag followed by `-<anything>`
 * (e.g. caddy-2.6.2-test1, a tag of its own for a test or a staged upgrade, built from the same Dockerfile).
 */
const TAGS: { tag: string; folder: string }[] = [
  { tag: 'caddy-2.6.2', folder: 'proxy' },
  { tag: 'caddy-2.11.4', folder: 'proxy-caddy-2.11' },
];

export interface PackagedDockerfile {
  /** Absolute path of the Dockerfile, inside the installed boxship package. */
  path: string;
  text: string;
  /** `sha256:<hex>` of `text`: the DOCKERFILE_LABEL value an image built from it carries. */
  digest: string;
}

/**
 * The boxship package's root: the nearest folder up from this module with boxship's package.json. The same walk
 * finds it from src/image (tests, tsx) and from dist/src/image (a build, an `npm pack` install).
 */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'boxship') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new BoxshipError('cannot find the boxship package folder', { hint: 'reinstall boxship (npm i boxship)' });
    dir = up;
  }
}

/** The packaged Dockerfile that builds `ref`, or undefined when `ref` is not one of boxship's own images. */
export function packagedDockerfile(ref: string): PackagedDockerfile | undefined {
  const [repository, tag] = ref.split(':');
  if (repository !== REPOSITORY || !tag) return undefined;
  const entry = TAGS.find((t) => tag === t.tag || tag.startsWith(`${t.tag}-`));
  if (!entry) return undefined;
  const file = path.join(packageRoot(), 'dockerfiles', entry.folder, 'Dockerfile');
  const text = readFileSync(file, 'utf8');
  return { path: file, text, digest: `sha256:${createHash('sha256').update(text).digest('hex')}` };
}

/** The tags a packaged Dockerfile builds, for a hint. */
export function packagedTags(): string {
  return TAGS.map((t) => `${REPOSITORY}:${t.tag}`).join(', ');
}

function contextTar(text: string): Readable {
  const pack = tarStream.pack();
  pack.entry({ name: 'Dockerfile', mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) }, text);
  pack.finalize();
  return pack as unknown as Readable;
}

/**
 * Builds `ref` from its packaged Dockerfile on this machine's engine, the build's steps reported as they run; the
 * image ID. A failure names the Dockerfile, shows the build's own error and, when a base image is not here, says so.
 */
export async function buildPackagedImage(docker: Docker, ref: string, dockerfile: PackagedDockerfile, report: Report): Promise<string> {
  const failed = async (err: unknown): Promise<never> => {
    const bases = pinnableRefs(dockerfile.text, {});
    const present = await resolveLocalImageIds(docker, bases).catch(() => new Map<string, string>());
    const missing = bases.filter((b) => !present.has(b));
    const manual = `DOCKER_BUILDKIT=1 docker build -t ${ref} ${path.dirname(dockerfile.path)}`;
    const hint = missing.length
      ? `its base image ${missing.join(', ')} is not on this machine (ARG BASE_IMAGE in ${dockerfile.path}): docker pull or docker load it, or build the proxy image yourself: ${manual}`
      : `${err instanceof BoxshipError && err.hint ? `${err.hint}; or ` : ''}build it yourself to see the whole output: ${manual}`;
    throw new BoxshipError(`building the proxy image ${ref} from ${dockerfile.path} failed: ${errorMessage(err)}`, { hint, cause: err });
  };
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(contextTar(dockerfile.text), {
      version: '2',
      t: ref,
      dockerfile: 'Dockerfile',
      labels: { [DOCKERFILE_LABEL]: dockerfile.digest },
    });
  } catch (err) {
    return failed(err);
  }
  const { imageId } = await followBuild(stream, report).catch(failed);
  return imageId;
}
