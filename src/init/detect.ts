/**
 * What `boxship init` can see in an app folder: the Dockerfile (its stages, EXPOSE and HEALTHCHECK), the git repo,
 * the lockfile, the service name, and files outside git that the Dockerfile copies. Reads only; nothing is written.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseDockerfile } from '../image/dockerfile.js';
import { splitInstructions } from '../image/dockerfile-lines.js';
import { globRegExp } from '../image/image-uses.js';

const LOCKFILES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'poetry.lock',
  'Pipfile.lock',
  'requirements.txt',
  'Gemfile.lock',
  'go.sum',
  'Cargo.lock',
  'composer.lock',
  'mix.lock',
];

export interface AppFacts {
  service: string;
  /** Dockerfile name relative to the folder, when there is one. */
  dockerfile?: string;
  /** The first port EXPOSEd by the final stage (or any stage). */
  exposePort?: number;
  /** From a HEALTHCHECK that calls a URL (curl/wget http://localhost:PORT/path). */
  healthcheck?: { path: string; port?: number };
  /** Name of the last stage of a multi-stage Dockerfile (what `docker build` builds by default). */
  finalStage?: string;
  /** Number of FROM lines. */
  stages: number;
  git: boolean;
  lockfile?: string;
  /** Git-ignored files that a COPY/ADD of the Dockerfile names: they need build.include. */
  include: string[];
  /** Local KEY=VALUE file for app.secrets_file (git-ignored). */
  secretsFile: string;
  /** Whether the secrets file exists already. */
  secretsExists: boolean;
}

/** A Docker-acceptable service name from a package or folder name: lowercase letters, digits and -, at most 63. */
export function serviceName(raw: string): string {
  const name = raw
    .replace(/^@[^/]+\//, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name || 'app';
}

/** EXPOSE 3000, EXPOSE 3000/tcp 9229: the first port. */
function exposedPort(args: string): number | undefined {
  const m = /(?:^|\s)(\d{1,5})(?:\/tcp)?(?:\s|$)/.exec(args);
  const n = m ? Number(m[1]) : NaN;
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** HEALTHCHECK [opts] CMD curl -f http://localhost:3000/health || exit 1 -> { path: /health, port: 3000 }. */
export function healthcheckUrl(args: string): { path: string; port?: number } | undefined {
  if (/^\s*NONE\s*$/i.test(args)) return undefined;
  const m = /https?:\/\/(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(\d{1,5}))?(\/[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*)?/.exec(args);
  if (!m) return undefined;
  return { path: m[2] ?? '/', ...(m[1] ? { port: Number(m[1]) } : {}) };
}

/** The Dockerfile facts, from its text alone (pure). */
export function dockerfileFacts(text: string): Pick<AppFacts, 'exposePort' | 'healthcheck' | 'finalStage' | 'stages'> & { copySources: string[] } {
  const df = parseDockerfile(text);
  let exposePort: number | undefined;
  let finalExpose: number | undefined;
  let healthcheck: AppFacts['healthcheck'];
  let _stage = -1;
  for (const ins of splitInstructions(text)) {
    if (ins.keyword === 'FROM') {
      _stage++;
      finalExpose = undefined;
    }
    if (ins.keyword === 'EXPOSE') {
      const p = exposedPort(ins.args);
      exposePort ??= p;
      finalExpose ??= p;
    }
    if (ins.keyword === 'HEALTHCHECK') healthcheck = healthcheckUrl(ins.args.replace(/^(--\S+\s+)*/, '')) ?? healthcheck;
  }
  const last = df.stages[df.stages.length - 1];
  const copySources = df.stages.flatMap((s) => s.copies.filter((c) => c.from === undefined).flatMap((c) => c.sources));
  return {
    exposePort: finalExpose ?? exposePort,
    healthcheck,
    finalStage: df.stages.length > 1 ? last?.name : undefined,
    stages: df.stages.length,
    copySources,
  };
}

function git(dir: string, ...args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** Where compose says the app is built from (compose.ts): the build context, its Dockerfile and the stage to build. */
export interface BuildHint {
  context: string;
  dockerfile?: string;
  target?: string;
}

export function detectApp(dir: string, secretsFile = '.env.secrets', build?: BuildHint): AppFacts {
  const pkg = existsSync(join(dir, 'package.json')) ? (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }) : undefined;
  const service = serviceName(typeof pkg?.name === 'string' ? pkg.name : basename(dir));
  const context = join(dir, build?.context ?? '.');
  const wanted = build?.dockerfile ?? 'Dockerfile';
  const dockerfile = existsSync(join(context, wanted)) ? wanted : undefined;
  const facts = dockerfile ? dockerfileFacts(readFileSync(join(context, dockerfile), 'utf8')) : { stages: 0, copySources: [] as string[] };
  const isGit = git(dir, 'rev-parse', '--is-inside-work-tree')?.trim() === 'true';
  const files = new Set(existsSync(context) ? readdirSync(context) : []);
  // Git-ignored files never reach a commit, and the build context is the commit: a COPY of one needs build.include.
  // (Untracked files that are not ignored will be committed with boxship.yml.)
  const outside =
    isGit && existsSync(context)
      ? (git(context, 'ls-files', '--others', '--ignored', '--exclude-standard', '--directory', '--no-empty-directory', '.') ?? '')
      : '';
  const notInGit = new Set(outside.split('\n').filter((f) => f && !f.endsWith('/')));
  const include = [...notInGit].filter((f) => f !== secretsFile && facts.copySources.some((src) => globRegExp(src).test(f))).sort();
  return {
    service,
    dockerfile,
    exposePort: facts.exposePort,
    healthcheck: facts.healthcheck,
    // The stage compose builds is the one that runs; else the last (what `docker build` builds by default).
    finalStage: build?.target ?? facts.finalStage,
    stages: facts.stages,
    git: isGit,
    lockfile: LOCKFILES.find((f) => files.has(f)),
    include,
    secretsFile,
    secretsExists: existsSync(join(dir, secretsFile)),
  };
}
