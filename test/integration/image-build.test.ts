/**
 * Real BuildKit builds through the local engine (POST /build?version=2), from temp git repositories.
 * Needs the local base image debian:bookworm-slim (scripts/setup.sh makes it).
 */
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildRelease, resolveLocalImageIds } from '../../src/image/build.js';
import type { Config } from '../../src/config/types.js';
import { BoxshipError, InputError } from '../../src/util/errors.js';
import type { ProgressEvent } from '../../src/util/events.js';

const BASE = 'debian:bookworm-slim';
const docker = new Docker();
const dirs: string[] = [];
const services: string[] = [];
let baseId: string;

beforeAll(async () => {
  const ids = await resolveLocalImageIds(docker, [BASE]);
  const id = ids.get(BASE);
  if (!id) throw new Error(`${BASE} is not present locally: run scripts/setup.sh`);
  baseId = id;
});

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  // Remove every image the tests tagged; their layers are shared with the base, so this is cheap.
  const images = await docker.listImages();
  for (const img of images) {
    for (const t of img.RepoTags ?? []) {
      if (services.some((s) => t.startsWith(`${s}:`)))
        await docker
          .getImage(t)
          .remove({ force: true })
          .catch(() => {});
    }
  }
});

function git(dir: string, ...args: string[]): string {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete env[k];
  return execFileSync('git', args, { cwd: dir, env, encoding: 'utf8' });
}

/** A committed git repo holding `files`, and a config that builds it as a fresh service name. */
function project(files: Record<string, string>, build: Partial<Config['build']> = {}): { config: Config; sha: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'boxship-build-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), body);
  }
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'app');
  const service = `bxtest-${randomBytes(4).toString('hex')}`;
  services.push(service);
  const config: Config = {
    file: path.join(dir, 'boxship.yml'),
    dir,
    service,
    build: { context: dir, dockerfile: path.join(dir, 'Dockerfile'), args: {}, include: [], pins: { [BASE]: baseId }, ...build },
    hosts: [],
    app: { port: 8080, env: {}, volumes: [], drainSeconds: 1, stopTimeoutSeconds: 1 },
    healthcheck: { path: '/', port: 8080, intervalMs: 100, timeoutMs: 100, retries: 1 },
    proxy: { image: 'caddy', port: 80, bind: '127.0.0.1', retryAfterSeconds: 1, backoffHeader: 'X-Backoff' },
    releases: { keep: 3 },
    ship: { compression: 'auto', relay: 'auto', relayAgent: 'off' },
  };
  return { config, sha: git(dir, 'rev-parse', 'HEAD').trim() };
}

/** Contents of a file in an image, read from a created (never started) container; undefined when absent. */
async function fileInImage(image: string, file: string): Promise<string | undefined> {
  const container = await docker.createContainer({ Image: image, Cmd: ['true'] });
  try {
    const archive = await container.getArchive({ path: file }).catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404) return undefined;
      throw err;
    });
    if (!archive) return undefined;
    const extract = tarStream.extract();
    let body = '';
    const done = new Promise<void>((resolve, reject) => {
      extract.on('entry', (_h, stream, next) => {
        stream.on('data', (c: unknown) => (body += String(c)));
        stream.on('end', next);
      });
      extract.on('finish', resolve);
      extract.on('error', reject);
    });
    archive.pipe(extract);
    await done;
    return body;
  } finally {
    await container.remove({ force: true });
  }
}

async function imageExists(ref: string): Promise<boolean> {
  return docker
    .getImage(ref)
    .inspect()
    .then(() => true)
    .catch(() => false);
}

const TWO_STAGES = [
  'ARG BASE=debian:bookworm-slim',
  'FROM ${BASE} AS builder',
  'ARG GREETING=default-greeting',
  'RUN echo "greeting=$GREETING" > /greeting',
  '',
  'FROM debian:bookworm-slim AS runtime',
  'COPY --from=builder /greeting /greeting',
  'COPY . /ctx',
  '',
  'FROM runtime AS extra',
  'RUN echo extra > /extra',
  '',
].join('\n');

describe('buildRelease (BuildKit)', () => {
  it('builds a pinned two-stage Dockerfile with target and build args, tagged and labelled', async () => {
    const { config, sha } = project(
      { Dockerfile: TWO_STAGES, '.dockerignore': 'secret.txt\n', 'app.txt': 'app\n', 'secret.txt': 'do not ship\n' },
      { target: 'runtime', args: { GREETING: 'hello-from-args' } },
    );
    const events: ProgressEvent[] = [];
    const result = await buildRelease({ config, report: (e) => events.push(e) });

    expect(result.tag).toBe(`${config.service}:${sha}`);
    expect(result.sha).toBe(sha);
    const info = await docker.getImage(result.tag).inspect();
    expect(info.Id).toBe(result.imageId);
    expect(info.Config.Labels).toMatchObject({
      'org.opencontainers.image.revision': sha,
      'dev.boxship.service': config.service,
      'dev.boxship.tag': sha,
      'dev.boxship.dirty': 'false',
      'dev.boxship.lockfiles': '[]',
    });
    expect(JSON.parse(info.Config.Labels['dev.boxship.base-images']!)).toEqual([{ ref: BASE, id: baseId }]);
    expect(result.labels).toEqual(info.Config.Labels);

    // The build arg reached the builder stage; the target stopped before `extra`; .dockerignore kept the secret out.
    expect(await fileInImage(result.tag, '/greeting')).toBe('greeting=hello-from-args\n');
    expect(await fileInImage(result.tag, '/extra')).toBeUndefined();
    expect(await fileInImage(result.tag, '/ctx/app.txt')).toBe('app\n');
    expect(await fileInImage(result.tag, '/ctx/secret.txt')).toBeUndefined();

    const build = events.filter((e) => e.kind === 'build').map((e) => e.message);
    // BuildKit names the step with the build arg already substituted.
    expect(build.some((m) => /^#\d+ (DONE \d+\.\ds|CACHED) \[builder 2\/2\] RUN echo "greeting=hello-from-args" > \/greeting$/.test(m))).toBe(true);
    expect(build.some((m) => m.includes('[runtime 2/3] COPY --from=builder /greeting /greeting'))).toBe(true);
    expect(build.some((m) => m.includes('extra'))).toBe(false);
  });

  it('builds the target named by config and uses the other build arg value', async () => {
    const { config } = project({ Dockerfile: TWO_STAGES, 'app.txt': 'x' }, { target: 'extra', args: { GREETING: 'second' } });
    const result = await buildRelease({ config });
    expect(await fileInImage(result.tag, '/extra')).toBe('extra\n');
    expect(await fileInImage(result.tag, '/greeting')).toBe('greeting=second\n');
  });

  it('fails a broken RUN with the step name and its last lines of output, tagging nothing', async () => {
    const { config } = project({
      Dockerfile: [
        'FROM debian:bookworm-slim',
        `RUN echo start-${randomBytes(3).toString('hex')}; for i in $(seq 1 25); do echo out $i; done; echo boom; exit 7`,
      ].join('\n'),
    });
    const err = await buildRelease({ config }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BoxshipError);
    expect(err).not.toBeInstanceOf(InputError);
    const message = (err as Error).message;
    expect(message).toMatch(/build failed at step \[2\/2\] RUN echo start-[0-9a-f]+; for i in/);
    expect(message).toContain('exit code: 7');
    expect(message).toContain('last 20 lines of its output:');
    // All on stdout: BuildKit sends stdout and stderr as separate batches, and a failing step's last stderr line can
    // arrive after the failure or not at all, so only one stream has a guaranteed order.
    expect(message).toContain('\n  out 25');
    expect(message).toContain('\n  boom');
    expect(message).not.toContain('out 6\n');
    expect(await imageExists(`${config.service}:${git(config.dir, 'rev-parse', 'HEAD').trim()}`)).toBe(false);
  });

  it('refuses an unpinned FROM before building anything', async () => {
    const { config, sha } = project({ Dockerfile: 'FROM debian:bookworm-slim\nRUN echo never > /x\n' }, { pins: {} });
    const spy = vi.spyOn(docker, 'buildImage');
    try {
      const err = await buildRelease({ config, docker }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).exitCode).toBe(2);
      expect((err as InputError).message).toContain('Dockerfile:1: FROM debian:bookworm-slim is not pinned');
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    expect(await imageExists(`${config.service}:${sha}`)).toBe(false);
  });

  it('refuses a pin that no longer matches the local image, naming both IDs', async () => {
    const stale = `sha256:${'0'.repeat(64)}`;
    const { config } = project({ Dockerfile: 'FROM debian:bookworm-slim\n' }, { pins: { [BASE]: stale } });
    const err = (await buildRelease({ config }).catch((e: unknown) => e)) as InputError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`is pinned to ${stale}, but the local ${BASE} is ${baseId}`);
    expect(err.message).toContain('run `boxship pin` to accept the new base image');
  });

  it('builds anyway with allowUnpinned, reporting the problems as warnings and leaving them out of the labels', async () => {
    const { config } = project({ Dockerfile: 'FROM debian:bookworm-slim\n' }, { pins: {} });
    const events: ProgressEvent[] = [];
    const result = await buildRelease({ config, allowUnpinned: true, report: (e) => events.push(e) });
    expect(events.filter((e) => e.kind === 'warning').map((e) => e.message)).toEqual([
      expect.stringContaining('Dockerfile:1: FROM debian:bookworm-slim is not pinned'),
    ]);
    expect(result.labels['dev.boxship.base-images']).toBe('[]');
  });

  it('refuses a dirty tree before building, and tags a dirty build when allowed', async () => {
    const { config, sha } = project({ Dockerfile: 'FROM debian:bookworm-slim\nCOPY app.txt /app.txt\n', 'app.txt': 'v1\n' });
    writeFileSync(path.join(config.dir, 'app.txt'), 'v2\n');
    await expect(buildRelease({ config })).rejects.toThrow(/uncommitted changes:\n {2}app\.txt/);
    const result = await buildRelease({ config, allowDirty: true });
    expect(result.tag).toMatch(new RegExp(`^${config.service}:${sha}-dirty-[0-9a-f]{12}$`));
    expect(result.labels['dev.boxship.dirty']).toBe('true');
    expect(await fileInImage(result.tag, '/app.txt')).toBe('v2\n');
  });
});
