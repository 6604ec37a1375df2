/**
 * boxship's own proxy image on first setup, with no `docker build` by hand: under a tag of its own (so that neither
 * this machine nor the hosts have it, and no other suite's image is touched), `boxship setup` builds it here from the
 * packaged Dockerfile, ships it to both hosts (either image store), and the proxy runs from it and serves, with curl
 * inside. A second setup neither builds nor ships. The tag is removed here and on the hosts afterwards.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKERFILE_LABEL } from '../../src/image/packaged.js';
import { PROXY_HEALTH_PATH } from '../../src/proxy/caddy-answers.js';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, onHost, type RunResult } from '../helpers/run.js';

const IMAGE = `boxship-proxy:caddy-2.6.2-test${randomBytes(4).toString('hex')}`;
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const localLabel = () =>
  execFileSync('docker', ['image', 'inspect', '--format', `{{index .Config.Labels "${DOCKERFILE_LABEL}"}}`, IMAGE], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();

async function removeFromHosts(): Promise<void> {
  for (const h of HOSTS) {
    await onHost(
      h.container,
      `if [ "$(docker inspect -f '{{.Config.Image}}' hello-proxy 2>/dev/null)" = '${IMAGE}' ]; then docker rm -f hello-proxy >/dev/null; fi; docker image rm -f '${IMAGE}' >/dev/null 2>&1; true`,
    );
  }
}

describe("boxship's own proxy image", () => {
  let app: ExampleApp;

  beforeAll(() => {
    app = makeExampleApp();
    app.writeConfig({ extraYaml: ['proxy:', `  image: ${IMAGE}`].join('\n') });
    app.commit('proxy image of its own');
  });

  afterAll(async () => {
    await removeFromHosts();
    execFileSync('docker', ['image', 'rm', '-f', IMAGE], { stdio: 'ignore' });
  });

  it('is built here and shipped on first setup when neither this machine nor the hosts have it, and the proxy serves', async () => {
    expect(() => localLabel(), 'the temporary tag exists here already').toThrow();
    for (const h of HOSTS) expect((await onHost(h.container, `docker image inspect '${IMAGE}' >/dev/null 2>&1 && echo has || echo none`)).trim()).toBe('none');

    const first = await boxship(['setup'], { cwd: app.dir });
    ok(first);
    expect(first.stdout + first.stderr).toContain(`building the proxy image ${IMAGE} here from`);
    expect(localLabel()).toMatch(/^sha256:[0-9a-f]{64}$/);

    for (const h of HOSTS) {
      expect((await onHost(h.container, `docker inspect -f '{{.Config.Image}} {{.State.Running}}' hello-proxy`)).trim(), h.name).toBe(`${IMAGE} true`);
      // curl is in the image (the edge triggers on-demand TLS with it), and answers through the proxy itself.
      expect(await onHost(h.container, 'docker exec hello-proxy curl --version')).toMatch(/^curl \d/);
      const code = await onHost(h.container, `docker exec hello-proxy curl -s -o /dev/null -w '%{http_code}' http://localhost:80${PROXY_HEALTH_PATH}`);
      expect(code, h.name).toBe('200');
      const r = await fetch(`http://127.0.0.1:${h.httpPort}${PROXY_HEALTH_PATH}`, { signal: AbortSignal.timeout(10_000) });
      expect(r.status, h.name).toBe(200);
    }

    const second = await boxship(['setup'], { cwd: app.dir });
    ok(second);
    expect(second.stdout + second.stderr).not.toMatch(/building the proxy image|shipping the proxy image/);
  });
});
