/**
 * Build a release image: check everything that can be checked before building (clean git tree, pinned base images,
 * lockfiles), then build with BuildKit through the Engine API and tag the image `<service>:<git tag>` with labels
 * that record what went in. Refusals happen before the engine builds anything.
 */
import Docker from 'dockerode';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { BoxshipError, InputError, errorMessage } from '../util/errors.js';
import { silent, type Report } from '../util/events.js';
import { followBuild } from './buildkit-progress.js';
import { packContext, selectContext, type IncludedFile } from './context.js';
import { gitRevision } from './git.js';
import { checkPinning, pinnableRefs, type BaseImage, type LockfileRecord } from './pinning.js';
import { formatProblems } from './problem.js';

export interface BuildOptions {
  config: Config;
  /** Build from a work tree with uncommitted changes; the tag then says so (`<sha>-dirty-<hash>`). */
  allowDirty?: boolean;
  /** Report pinning problems as warnings instead of refusing to build. */
  allowUnpinned?: boolean;
  report?: Report;
  /** Defaults to the engine at DOCKER_HOST or /var/run/docker.sock. */
  docker?: Docker;
  /** Report every line of build output, not only a failing step's. */
  showLogs?: boolean;
}

export interface BuildResult {
  imageId: string;
  /** `<service>:<git tag>`. */
  tag: string;
  sha: string;
  dirty: boolean;
  labels: Record<string, string>;
  baseImages: BaseImage[];
  lockfiles: LockfileRecord[];
  /** Files from outside git that build.include added, with their sha256 (also in the `included` label). */
  included: IncludedFile[];
}

const LABELS = {
  revision: 'org.opencontainers.image.revision',
  service: 'dev.boxship.service',
  tag: 'dev.boxship.tag',
  baseImages: 'dev.boxship.base-images',
  lockfiles: 'dev.boxship.lockfiles',
  dirty: 'dev.boxship.dirty',
  /** JSON [{path, sha256}] of the build.include files: the inputs that the commit does not pin. */
  included: 'dev.boxship.included',
} as const;

function engineUnreachable(err: unknown): BoxshipError {
  return new BoxshipError(`cannot reach the Docker engine: ${errorMessage(err)}`, {
    hint: 'start Docker (or set DOCKER_HOST), and check that you may use its socket',
    cause: err,
  });
}

/**
 * Local image IDs of image references, for the pinning check: a reference with no local image is left out of the
 * map (the check reports it). Inspecting by reference is what BuildKit on this engine resolves FROM against first.
 */
export async function resolveLocalImageIds(docker: Docker, refs: string[], platforms?: Map<string, string>): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const ref of new Set(refs)) {
    try {
      const info = await docker.getImage(ref).inspect();
      ids.set(ref, info.Id);
      const v = (info as { Variant?: string }).Variant;
      platforms?.set(ref, [info.Os, info.Architecture, v].filter(Boolean).join('/'));
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      // 404: not present locally; 400: the engine rejects the reference (e.g. bad syntax), which pinning reports too.
      if (status === 404 || status === 400) continue;
      throw engineUnreachable(err);
    }
  }
  return ids;
}

/** Shown in messages: relative to the working folder when inside it, like compilers do. */
function displayPath(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

export async function buildRelease(options: BuildOptions): Promise<BuildResult> {
  const { config } = options;
  const report = options.report ?? silent;
  const docker = options.docker ?? new Docker();

  report({ kind: 'step', message: 'checking the git revision' });
  const revision = await gitRevision(config.dir, { allowDirty: options.allowDirty });
  if (revision.dirty) {
    report({ kind: 'warning', message: `building from uncommitted changes (${revision.changed.length} paths); tag ${revision.tag}` });
  }

  report({ kind: 'step', message: 'checking the Dockerfile and build context' });
  // The context is cut from the commit the tag names (or, with --allow-dirty, from what would be committed).
  const context = await selectContext({
    root: revision.root,
    sha: revision.sha,
    source: revision.dirty ? 'worktree' : 'commit',
    contextDir: config.build.context,
    dockerfilePath: config.build.dockerfile,
    include: config.build.include,
    secretsFile: config.app.secretsFile,
    otherSecrets: (config.accessories ?? []).flatMap((a) => (a.secretsFile ? [{ path: a.secretsFile, key: `accessories.${a.name}.secrets_file` }] : [])),
  });
  for (const f of context.included) {
    report({ kind: 'step', message: `including ${f.path} from outside git (sha256 ${f.sha256})` });
  }
  for (const rel of context.suspicious) {
    report({
      kind: 'warning',
      message: `the build context contains ${displayPath(path.join(context.dir, rel))}, which looks like a secret: add it to .dockerignore, or name it in build.include if the image needs it`,
    });
  }
  const dockerfileText = context.dockerfile.toString('utf8');
  const refs = pinnableRefs(dockerfileText, config.build.args, config.build.target);
  const localPlatforms = new Map<string, string>();
  const localImageIds = await resolveLocalImageIds(docker, refs, localPlatforms);
  const pinning = checkPinning({
    dockerfilePath: displayPath(config.build.dockerfile),
    dockerfileText,
    contextFiles: context.files,
    readContextFile: (rel) => context.readFile(rel),
    buildArgs: config.build.args,
    target: config.build.target,
    pins: config.build.pins,
    localImageIds,
    localPlatforms,
    ...(config.build.platform ? { platform: config.build.platform } : {}),
  });
  if (pinning.problems.length > 0) {
    if (!options.allowUnpinned) {
      throw new InputError(
        `the build is not reproducible (${pinning.problems.length} problem${pinning.problems.length === 1 ? '' : 's'}):\n${formatProblems(pinning.problems)}`,
        {
          hint: 'fix the lines above, or pass --allow-unpinned to build anyway',
        },
      );
    }
    for (const p of pinning.problems) report({ kind: 'warning', message: `${p.message} (${p.hint})` });
  }

  const tag = `${config.service}:${revision.tag}`;
  const labels: Record<string, string> = {
    [LABELS.revision]: revision.sha,
    [LABELS.service]: config.service,
    [LABELS.tag]: revision.tag,
    [LABELS.baseImages]: JSON.stringify(pinning.baseImages),
    [LABELS.lockfiles]: JSON.stringify(pinning.lockfiles),
    [LABELS.dirty]: String(revision.dirty),
    [LABELS.included]: JSON.stringify(context.included),
  };

  report({ kind: 'step', message: `building ${tag}` });
  // A failure while producing the tar (a blob git cannot read, a file deleted meanwhile) aborts the request; it is
  // the error to show, not the engine's view of a cut upload.
  const tar = packContext(context);
  let tarError: unknown;
  tar.on('error', (err) => (tarError = err));
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(tar, {
      version: '2',
      t: tag,
      dockerfile: context.dockerfileName,
      buildargs: config.build.args,
      labels,
      ...(config.build.target ? { target: config.build.target } : {}),
      // The hosts' platform, when this machine's differs (an ARM laptop shipping to amd64 servers).
      ...(config.build.platform ? { platform: config.build.platform } : {}),
    });
  } catch (err) {
    throw tarError ?? engineUnreachable(err);
  }
  const { imageId } = await followBuild(stream, report, { showLogs: options.showLogs }).catch((err: unknown) => {
    throw tarError ?? err;
  });

  // BuildKit on this engine cannot build FROM an image ID, so FROM names a tag that was checked against its pin
  // above; if the tag moved while we built, the image may hold another base than the one the labels name.
  const after = await resolveLocalImageIds(docker, refs);
  for (const base of pinning.baseImages) {
    if ('id' in base && after.get(base.ref) !== base.id) {
      throw new BoxshipError(`the base image ${base.ref} changed while building (was ${base.id}, now ${after.get(base.ref) ?? 'gone'})`, {
        hint: 'build again; if the new base image is intended, run `boxship pin` first',
      });
    }
  }

  return {
    imageId,
    tag,
    sha: revision.sha,
    dirty: revision.dirty,
    labels,
    baseImages: pinning.baseImages,
    lockfiles: pinning.lockfiles,
    included: context.included,
  };
}
