/**
 * The pinning policy: a release must be rebuildable to the same thing. Every base image the build pulls in is pinned
 * (by registry digest, or by local image ID recorded in boxship.yml), and dependencies install from a lockfile.
 * Pure over its inputs: the caller resolves local image IDs and supplies the context's files.
 */
import { InputError } from '../util/errors.js';
import { parseDockerfile, type ParsedDockerfile } from './dockerfile.js';
import { type ImageUse, imageUses, usedStages } from './dockerfile-stages.js';
import { checkLockfiles, type LockfileRecord } from './lockfiles.js';
import { problem, type PolicyProblem } from './problem.js';
export type { LockfileRecord } from './lockfiles.js';

export interface PinningInput {
  /** The Dockerfile path as it should appear in messages. */
  dockerfilePath: string;
  dockerfileText: string;
  /** Files of the build context after .dockerignore (relative, forward slashes), or a test for one. */
  contextFiles: string[] | ((rel: string) => boolean);
  /** Reads a context file; needed to hash lockfiles and to look for --hash= in requirement files. */
  readContextFile: (rel: string) => Buffer;
  buildArgs: Record<string, string>;
  target?: string;
  /** config.build.pins: image reference as written in FROM -> "sha256:<64 hex>" local image ID. */
  pins: Record<string, string>;
  /** Local image IDs of the references the Dockerfile uses; a reference missing here is not present locally. */
  localImageIds: Map<string, string>;
  /** `os/arch[/variant]` of those local images: a pin holds only for the platform it is for. */
  localPlatforms?: Map<string, string>;
  /** build.platform: what the build targets when a FROM does not say (`FROM --platform=…` wins). */
  platform?: string;
}

export type BaseImage = { ref: string; id: string } | { ref: string; digest: string };

export interface PinningResult {
  problems: PolicyProblem[];
  baseImages: BaseImage[];
  lockfiles: LockfileRecord[];
}

const DIGEST_REF = /^[^@\s]+@sha256:[0-9a-f]{64}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const PIN_HINT = 'run `boxship pin` to pin the local image ID in boxship.yml, or write the image as name@sha256:<digest>';

/**
 * `debian` and `docker.io/library/debian:latest` name the same image; pins written one way must match FROM lines
 * written the other. Digests are kept as they are.
 */
export function normalizeRef(ref: string): string {
  let name = ref;
  let suffix = '';
  const at = name.indexOf('@');
  if (at >= 0) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  } else {
    const slash = name.lastIndexOf('/');
    const colon = name.lastIndexOf(':');
    if (colon > slash) {
      suffix = name.slice(colon);
      name = name.slice(0, colon);
    } else suffix = ':latest';
  }
  const first = name.split('/')[0]!;
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) name = name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  return `${name.toLowerCase()}${suffix}`;
}

function lookup<T>(map: Map<string, T> | Record<string, T>, ref: string): T | undefined {
  const get = (k: string) => (map instanceof Map ? map.get(k) : Object.hasOwn(map, k) ? map[k] : undefined);
  const exact = get(ref);
  if (exact !== undefined) return exact;
  const wanted = normalizeRef(ref);
  const keys = map instanceof Map ? [...map.keys()] : Object.keys(map);
  const key = keys.find((k) => normalizeRef(k) === wanted);
  return key === undefined ? undefined : get(key);
}

/** linux/arm64 and linux/arm64/v8 are the same platform; otherwise os, architecture and variant must agree. */
function samePlatform(a: string, b: string): boolean {
  const norm = (p: string) => {
    const [os = '', arch = '', variant = ''] = p.toLowerCase().split('/');
    const a2 = arch === 'x86_64' ? 'amd64' : arch === 'aarch64' ? 'arm64' : arch;
    return [os, a2, a2 === 'arm64' && variant === 'v8' ? '' : variant];
  };
  const [x, y] = [norm(a), norm(b)];
  return x[0] === y[0] && x[1] === y[1] && (x[2] === '' || y[2] === '' || x[2] === y[2]);
}

function describe(use: ImageUse): string {
  return use.via === 'FROM' ? `FROM ${use.ref}` : `${use.via}=${use.ref}`;
}

/** Stages to check, or a problem when the configured target names none. */
function stagesFor(df: ParsedDockerfile, file: string, target?: string): { stages?: Set<number>; problem?: PolicyProblem } {
  if (df.stages.length === 0) {
    return { problem: problem(file, 1, 'no FROM instruction', 'a Dockerfile starts its first stage with FROM <image>') };
  }
  const stages = usedStages(df, target);
  if (stages) return { stages };
  const names = df.stages.flatMap((s) => (s.name ? [s.name] : []));
  return {
    problem: problem(
      file,
      1,
      `build target "${target}" is not a stage of this Dockerfile`,
      names.length ? `set build.target to one of: ${names.join(', ')}` : 'name a stage with `FROM <image> AS <name>`, or remove build.target',
    ),
  };
}

export function checkPinning(input: PinningInput): PinningResult {
  const file = input.dockerfilePath;
  const df = parseDockerfile(input.dockerfileText, input.buildArgs);
  const { stages, problem: targetProblem } = stagesFor(df, file, input.target);
  if (!stages) return { problems: [targetProblem!], baseImages: [], lockfiles: [] };

  const problems: PolicyProblem[] = [];
  const baseImages: BaseImage[] = [];
  const seen = new Set<string>();
  const record = (image: BaseImage) => {
    if (seen.has(image.ref)) return;
    seen.add(image.ref);
    baseImages.push(image);
  };

  for (const use of imageUses(df, stages)) {
    const what = describe(use);
    if (use.ref === '') {
      problems.push(
        problem(
          file,
          use.line,
          `${use.via} ${use.written} expands to an empty image name`,
          'declare the ARG it uses before the first FROM, with a default or a build arg',
        ),
      );
      continue;
    }
    if (DIGEST_REF.test(use.ref)) {
      record({ ref: use.ref, digest: use.ref.slice(use.ref.indexOf('@') + 1) });
      continue;
    }
    if (use.ref.includes('@')) {
      problems.push(problem(file, use.line, `${what} has a malformed digest`, 'a digest is @sha256: followed by 64 lower-case hex digits'));
      continue;
    }
    const pinned = lookup(input.pins, use.ref);
    if (pinned === undefined) {
      problems.push(problem(file, use.line, `${what} is not pinned`, PIN_HINT));
      continue;
    }
    if (!IMAGE_ID.test(pinned)) {
      problems.push(
        problem(
          file,
          use.line,
          `${what} is pinned to "${pinned}", which is not an image ID`,
          'a pin is sha256: followed by 64 hex digits; run `boxship pin` to rewrite it',
        ),
      );
      continue;
    }
    const local = lookup(input.localImageIds, use.ref);
    if (local === undefined) {
      problems.push(
        problem(
          file,
          use.line,
          `${what} is pinned to ${pinned}, but no image ${use.ref} exists locally`,
          `load the pinned image (docker load) or pull it, then check it again; run \`boxship pin\` only if you mean to accept whatever ${use.ref} now is`,
        ),
      );
      continue;
    }
    if (local !== pinned) {
      problems.push(
        problem(file, use.line, `${what} is pinned to ${pinned}, but the local ${use.ref} is ${local}`, 'run `boxship pin` to accept the new base image'),
      );
      continue;
    }
    // A local image ID pins one platform's image: `FROM --platform=linux/arm64 node` (or build.platform) must not
    // pass against a local amd64 node, or the image built is not the one the pin says.
    const wanted = use.platform ?? input.platform;
    const has = lookup(input.localPlatforms ?? new Map<string, string>(), use.ref);
    if (wanted && has && !samePlatform(wanted, has)) {
      problems.push(
        problem(
          file,
          use.line,
          `${what} is pinned to ${pinned}, an image for ${has}, but the build is for ${wanted}`,
          `load or pull ${use.ref} for ${wanted} (docker pull --platform ${wanted} ${use.ref}), then run \`boxship pin\`; or build for ${has}`,
        ),
      );
      continue;
    }
    record({ ref: use.ref, id: local });
  }

  const fileList = Array.isArray(input.contextFiles) ? input.contextFiles : undefined;
  const fileSet = fileList ? new Set(fileList) : undefined;
  const hasFile = fileSet ? (rel: string) => fileSet.has(rel) : (input.contextFiles as (rel: string) => boolean);
  const locks = checkLockfiles({ dockerfilePath: file, dockerfile: df, stages, hasFile, readFile: input.readContextFile, files: fileList });
  problems.push(...locks.problems);
  problems.sort((a, b) => a.line - b.line);
  return { problems, baseImages, lockfiles: locks.lockfiles };
}

/**
 * Image references a build of `target` pulls in that can be pinned by local ID: not stages, not scratch, not
 * already pinned by digest. These are what `resolveLocalImageIds` needs to look up.
 */
export function pinnableRefs(dockerfileText: string, buildArgs: Record<string, string>, target?: string): string[] {
  const df = parseDockerfile(dockerfileText, buildArgs);
  const stages = usedStages(df, target) ?? new Set(df.stages.map((s) => s.index));
  return [...new Set(imageUses(df, stages).map((u) => u.ref))].filter((r) => r !== '' && !r.includes('@'));
}

/**
 * The pins a `boxship pin` command writes: every pinnable reference mapped to its current local image ID. A
 * reference with no local image cannot be pinned: that is bad input, reported for all of them at once.
 */
export function pinsFor(
  dockerfileText: string,
  buildArgs: Record<string, string>,
  localImageIds: Map<string, string>,
  target?: string,
): Record<string, string> {
  const refs = pinnableRefs(dockerfileText, buildArgs, target);
  const missing = refs.filter((r) => lookup(localImageIds, r) === undefined);
  if (missing.length > 0) {
    throw new InputError(`cannot pin ${missing.join(', ')}: no such image exists locally`, {
      hint: 'pull or load the base images first (docker pull / docker load), then pin again',
    });
  }
  return Object.fromEntries(refs.map((r) => [r, lookup(localImageIds, r)!]));
}
