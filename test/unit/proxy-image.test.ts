/**
 * The proxy image on a host (fleet/proxy-image.ts): whether it is built here, shipped or pulled, decided over a
 * scripted host and a stand-in for this machine's engine (its images, and builds that stream BuildKit progress), with
 * the layer-thin ship itself stubbed (it has its own tests). boxship's own images are recognised by their packaged
 * Dockerfile, and one from another Dockerfile under the same tag, here or on the host, counts as absent.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { ensureProxyImage, proxyImageAction, proxyImageOnHost } from '../../src/fleet/proxy-image.js';
import { DryRunRunner } from '../../src/hosts/runner.js';
import { encodeStatus, type StatusResponse } from '../../src/image/buildkit-progress.js';
import { DOCKERFILE_LABEL, packagedDockerfile } from '../../src/image/packaged.js';
import { reconcileProxy } from '../../src/rollout/setup.js';
import { shipSupportImage } from '../../src/ship/ship-image.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { REPO } from '../helpers/paths.js';
import { hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

vi.mock('../../src/ship/ship-image.js', () => ({ shipSupportImage: vi.fn(async () => ({ ok: true })) }));
const shipped = vi.mocked(shipSupportImage);

const dir = mkdtempSync(join(tmpdir(), 'boxship-proxy-image-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const configWith = (image?: string): Config =>
  parseConfig(['service: hello', 'hosts: [root@web-a, root@web-b]', ...(image ? [`proxy: { image: "${image}" }`] : [])].join('\n'), join(dir, 'boxship.yml'));

const PROXY_DOCKERFILE = join(REPO, 'dockerfiles', 'proxy', 'Dockerfile');
const DIGEST = `sha256:${createHash('sha256').update(readFileSync(PROXY_DOCKERFILE)).digest('hex')}`;
const BUILT = `sha256:${'b'.repeat(64)}`;

const trace = (status: Partial<StatusResponse>) => ({ id: 'moby.buildkit.trace', aux: encodeStatus(status) });
const t = (seconds: number) => ({ seconds, nanos: 0 });
const BUILD_OK = [
  trace({ vertexes: [{ digest: 'v1', name: '[1/2] FROM docker.io/library/debian:bookworm-slim', started: t(1), completed: t(1), cached: true }] }),
  trace({ vertexes: [{ digest: 'v2', name: '[2/2] RUN apt-get update && apt-get install caddy wget curl', started: t(1) }] }),
  trace({ vertexes: [{ digest: 'v2', name: '[2/2] RUN apt-get update && apt-get install caddy wget curl', started: t(1), completed: t(9) }] }),
  { id: 'moby.image.id', aux: { ID: BUILT } },
];
const BUILD_FAILS = [
  { errorDetail: { message: 'pull access denied for debian, repository does not exist' }, error: 'pull access denied for debian, repository does not exist' },
];

type Image = { Id: string; Config: { Labels: Record<string, string> | null } };

/** This machine's engine: the images it has, and builds that answer with `lines` (recorded). */
function engine(images: Record<string, Image>, lines: unknown[] = BUILD_OK) {
  const builds: Record<string, unknown>[] = [];
  const docker = {
    getImage: (ref: string) => ({
      inspect: async () => {
        const i = images[ref];
        if (!i) throw Object.assign(new Error(`no such image: ${ref}`), { statusCode: 404 });
        return i;
      },
    }),
    buildImage: async (_tar: unknown, opts: Record<string, unknown>) => {
      builds.push(opts);
      // Streamed a little later, so that hosts set up in parallel really overlap with the build.
      await new Promise((r) => setTimeout(r, 5));
      return Readable.from(lines.map((l) => `${JSON.stringify(l)}\n`));
    },
  };
  return { docker: docker as unknown as Docker, builds };
}

/** A host whose `docker image inspect` of the proxy image prints `inspect` (undefined: the host has no such image). */
function host(name: string, inspect?: string): ScriptedRunner {
  return new ScriptedRunner(hostConfig(name), [
    { match: /^check for /, answer: inspect === undefined ? { code: 1, stderr: 'Error: No such image' } : { stdout: `${inspect}\n` } },
  ]);
}

function context(config: Config, hosts: ScriptedRunner[] | DryRunRunner[], events: ProgressEvent[] = []): DeployContext {
  return { config, hosts, who: 'me', command: 'boxship setup', report: (e) => events.push(e) };
}

async function ensure(config: Config, ssh: ScriptedRunner, docker: Docker, events: ProgressEvent[] = []) {
  return ensureProxyImage(context(config, [ssh], events), ssh, docker, await proxyImageOnHost(ssh, config.proxy.image));
}

beforeEach(() => shipped.mockClear());

describe('the proxy image decision', () => {
  const own = 'sha256:own';
  it.each([
    ['own image, right one on the host', { own, host: { id: 'h', label: own } }, 'none', false],
    ['own image, nowhere', { own }, 'build', false],
    ['own image, here from the current Dockerfile', { own, local: { id: 'l', label: own } }, 'ship', false],
    ['own image, here from another Dockerfile', { own, local: { id: 'l', label: '' } }, 'build', false],
    ['own image, on the host from another Dockerfile', { own, host: { id: 'h', label: 'sha256:old' }, local: { id: 'l', label: own } }, 'ship', true],
    ['another image on the host', { host: { id: 'h', label: '' } }, 'none', false],
    ['another image here only', { local: { id: 'l', label: '' } }, 'ship', false],
    ['another image nowhere', {}, 'pull', false],
  ] as const)('%s: %s', (_what, input, action, stale) => {
    expect(proxyImageAction(input)).toEqual({ action, stale });
  });

  it("knows boxship's own images by their packaged Dockerfiles, from the tag or a tag of its own after it", () => {
    expect(packagedDockerfile('boxship-proxy:caddy-2.6.2')).toMatchObject({ path: PROXY_DOCKERFILE, digest: DIGEST });
    expect(packagedDockerfile('boxship-proxy:caddy-2.6.2-test1')?.path).toBe(PROXY_DOCKERFILE);
    expect(packagedDockerfile('boxship-proxy:caddy-2.11.4')?.path).toBe(join(REPO, 'dockerfiles', 'proxy-caddy-2.11', 'Dockerfile'));
    for (const other of ['caddy:2', 'boxship-proxy:mine', 'boxship-proxy:caddy-2.6.20', 'example.com/boxship-proxy:caddy-2.6.2']) {
      expect(packagedDockerfile(other), other).toBeUndefined();
    }
  });
});

describe('ensureProxyImage', () => {
  it("builds boxship's own image here when neither the host nor this machine has it, once for all hosts, then ships it", async () => {
    const { docker, builds } = engine({});
    const config = configWith();
    const hosts = [host('web-a'), host('web-b')];
    const events: ProgressEvent[] = [];
    const ctx = context(config, hosts, events);
    const replaced = await Promise.all(hosts.map(async (h) => ensureProxyImage(ctx, h, docker, await proxyImageOnHost(h, config.proxy.image))));
    expect(replaced).toEqual([false, false]);
    expect(builds).toHaveLength(1);
    expect(builds[0]).toMatchObject({ version: '2', t: 'boxship-proxy:caddy-2.6.2', labels: { [DOCKERFILE_LABEL]: DIGEST } });
    expect(shipped.mock.calls.map((c) => [c[0].ssh.name, c[0].ref, c[0].imageId])).toEqual([
      ['web-a', 'boxship-proxy:caddy-2.6.2', BUILT],
      ['web-b', 'boxship-proxy:caddy-2.6.2', BUILT],
    ]);
    // The build's progress is reported as it runs, after the step that says where it comes from.
    const messages = events.map((e) => ('message' in e ? e.message : ''));
    expect(messages).toContain(`building the proxy image boxship-proxy:caddy-2.6.2 here from ${PROXY_DOCKERFILE} (once; then shipped to each host)`);
    expect(events).toContainEqual({ kind: 'build', message: expect.stringMatching(/DONE .*RUN apt-get/) });
    expect(hosts.flatMap((h) => h.whys()).filter((w) => w.startsWith('pull'))).toEqual([]);
  });

  it("ships this machine's image when it was built from the current Dockerfile, and rebuilds one from another", async () => {
    const current = engine({ 'boxship-proxy:caddy-2.6.2': { Id: 'sha256:here', Config: { Labels: { [DOCKERFILE_LABEL]: DIGEST } } } });
    await ensure(configWith(), host('web-a'), current.docker);
    expect(current.builds).toEqual([]);
    expect(shipped.mock.calls[0]?.[0].imageId).toBe('sha256:here');

    const older = engine({ 'boxship-proxy:caddy-2.6.2': { Id: 'sha256:old', Config: { Labels: null } } });
    await ensure(configWith(), host('web-a'), older.docker);
    expect(older.builds).toHaveLength(1);
    expect(shipped.mock.calls[1]?.[0].imageId).toBe(BUILT);
  });

  it('leaves a host with the current image alone, and replaces one from another Dockerfile (true: restart its proxy)', async () => {
    const { docker, builds } = engine({});
    expect(await ensure(configWith(), host('web-a', `sha256:h ${DIGEST}`), docker)).toBe(false);
    expect(builds).toEqual([]);
    expect(shipped).not.toHaveBeenCalled();
    expect(await ensure(configWith(), host('web-a', 'sha256:h <no value>'), docker)).toBe(true);
    expect(shipped).toHaveBeenCalledOnce();
  });

  it('keeps the old rule for other images: shipped when this machine has it, else pulled by the host', async () => {
    const here = engine({ 'caddy:2': { Id: 'sha256:caddy', Config: { Labels: {} } } });
    await ensure(configWith('caddy:2'), host('web-a'), here.docker);
    expect(shipped.mock.calls[0]?.[0].imageId).toBe('sha256:caddy');
    const a = host('web-a');
    const nowhere = engine({});
    await ensure(configWith('caddy:2'), a, nowhere.docker);
    expect(a.whys()).toContain('pull caddy:2');
    expect(nowhere.builds).toEqual([]);
    expect(shipped).toHaveBeenCalledOnce();
    // On a host that already has it, nothing at all happens (whatever its labels).
    await ensure(configWith('caddy:2'), host('web-a', 'sha256:c <no value>'), nowhere.docker);
    expect(shipped).toHaveBeenCalledOnce();
  });

  it("a failed build names the Dockerfile, shows the engine's error, and says when the base image is missing here", async () => {
    const { docker } = engine({}, BUILD_FAILS);
    const err = await ensure(configWith('boxship-proxy:caddy-2.6.2-test1'), host('web-a'), docker).catch((e: unknown) => e);
    expect(err).toMatchObject({
      message: expect.stringContaining(
        `building the proxy image boxship-proxy:caddy-2.6.2-test1 from ${PROXY_DOCKERFILE} failed: build failed: pull access denied`,
      ),
      hint: expect.stringContaining(`its base image debian:bookworm-slim is not on this machine (ARG BASE_IMAGE in ${PROXY_DOCKERFILE})`),
    });
    expect(shipped).not.toHaveBeenCalled();
    // Not remembered: the next setup builds again.
    const again = engine({});
    await ensure(configWith('boxship-proxy:caddy-2.6.2-test1'), host('web-a'), again.docker);
    expect(again.builds).toHaveLength(1);
  });

  it('a failed rebuild of an older image warns and goes on with the older one: kept on the host, or shipped from here', async () => {
    const { docker } = engine({}, BUILD_FAILS);
    const events: ProgressEvent[] = [];
    expect(await ensure(configWith(), host('web-a', 'sha256:h <no value>'), docker, events)).toBe(false);
    expect(shipped).not.toHaveBeenCalled();
    expect(events).toContainEqual({
      kind: 'warning',
      host: 'web-a',
      message: expect.stringMatching(/^building the proxy image boxship-proxy:caddy-2\.6\.2 from .* failed: .*; the host keeps its older image$/),
    });
    const here = engine({ 'boxship-proxy:caddy-2.6.2': { Id: 'sha256:old', Config: { Labels: null } } }, BUILD_FAILS);
    await ensure(configWith(), host('web-a'), here.docker);
    expect(shipped.mock.calls[0]?.[0].imageId).toBe('sha256:old');
  });

  it('a plan notes what would be done and asks nothing of this machine', async () => {
    const dry = new DryRunRunner(host('web-a', 'sha256:h <no value>'));
    const notes: string[] = [];
    dry.note = (n: string) => void notes.push(n);
    const config = configWith();
    const stale = await ensureProxyImage(context(config, [dry]), dry, undefined as unknown as Docker, await proxyImageOnHost(dry, config.proxy.image));
    expect(stale).toBe(true);
    expect(notes).toEqual([expect.stringContaining(`build it here from ${PROXY_DOCKERFILE} unless this machine has it`)]);
    expect(shipped).not.toHaveBeenCalled();
  });
});

describe('reconcileProxy after a newer proxy image', () => {
  it('replaces a running proxy container (started from the older image under the same tag)', async () => {
    const config = configWith();
    const ssh = host('web-a');
    const state = { status: 'running', image: config.proxy.image, layout: 'edge+router' };
    const o = { state, currentConfig: 'same', text: 'same', hostDir: '.boxship/hello/proxy', network: 'hello', imageReplaced: true };
    const events: ProgressEvent[] = [];
    await reconcileProxy(context(config, [ssh], events), ssh, o);
    expect(ssh.whys()).toEqual(expect.arrayContaining(['remove the proxy container', 'start the proxy on 0.0.0.0:8080', 'wait until the proxy answers']));
    expect(events).toContainEqual(expect.objectContaining({ message: expect.stringContaining('boxship-proxy:caddy-2.6.2 is a newer image now') }));
    // Without a newer image, the same container stays.
    const same = host('web-a');
    await reconcileProxy(context(config, [same]), same, { ...o, state: { ...state }, imageReplaced: false });
    expect(same.whys()).not.toContain('remove the proxy container');
  });
});
