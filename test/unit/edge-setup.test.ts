import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { applyEdge, checkEdge } from '../../src/edge/setup.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { InputError } from '../../src/util/errors.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const site = {
  hosts: ['app.example.com'],
  tls: { mode: 'auto' as const },
  acme: { ca: 'https://ca.test/dir' },
  redirectHttps: true,
  hsts: false,
  edge: { httpPort: 80, httpsPort: 443 },
};
const config = {
  service: 'web',
  proxy: { image: 'boxship-proxy:caddy-2.6.2', bind: '0.0.0.0', retryAfterSeconds: 5, backoffHeader: 'X-Backoff', site },
} as unknown as Config;

function ctxFor(h: ScriptedRunner, events: ProgressEvent[] = []): DeployContext {
  return { config, hosts: [h], who: 'test', command: 'boxship setup', report: (e) => events.push(e), lock: { held: true } };
}

/** `docker ps` lines of a running edge: its ports holder and the generation in `slot`, and any retiring ones. */
const running = (ports: string, slot = 0, extra = '') =>
  `boxship-edge-ports|running|img|ports||${ports}\nboxship-edge|running|img|generation|${slot}|\n${extra}`;

const writes = (h: ScriptedRunner) => h.whys().filter((w) => !/^(check|list|read)/.test(w));

describe('the edge part of setup', () => {
  it('on a server without an edge: starts it, writes its config, routes the name, and obtains the certificate', async () => {
    const h = new ScriptedRunner(hostConfig('a'), [
      { match: /check the edge container/, answer: { stdout: '' } },
      { match: /read the certificates/, answer: { stdout: '' } },
    ]);
    const events: ProgressEvent[] = [];
    const check = await checkEdge(ctxFor(h, events), h);
    expect(writes(h)).toEqual([]);
    await applyEdge(ctxFor(h, events), h, check!);
    expect(writes(h)).toEqual([
      "start the edge's ports holder on ports 80 and 443",
      'send new connections to the edge generation in slot 0',
      'start the edge (generation in slot 0)',
      'write the edge config',
      'write the edge config',
      'record the edge settings',
      'wait until the edge answers',
      'route app.example.com to web',
      'obtain the certificate of app.example.com',
    ]);
    expect(h.ran.find((r) => r.why === 'route app.example.com to web')!.line).toContain('{"service":"web","tls":"auto","redirect":true,"hsts":false}');
    expect(events.map((e) => ('message' in e ? e.message : ''))).toContain('edge routes app.example.com to web');
  });

  it('refuses a name another service serves there, having written nothing', async () => {
    const h = new ScriptedRunner(hostConfig('a'), [
      { match: /check the edge container/, answer: { stdout: running('80,443') } },
      {
        match: /list the routes/,
        answer: { stdout: 'app.example.com root shop\napp.example.com site.json {"service":"shop","tls":"auto","redirect":true,"hsts":false}\n' },
      },
    ]);
    await expect(checkEdge(ctxFor(h), h)).rejects.toThrow(InputError);
    await expect(checkEdge(ctxFor(h), h)).rejects.toThrow(/a: app\.example\.com is already served by the service shop on this host/);
    expect(writes(h)).toEqual([]);
  });

  it('refuses other edge ports, and another ACME CA while other services use the edge', async () => {
    const ports = new ScriptedRunner(hostConfig('a'), [{ match: /check the edge container/, answer: { stdout: running('8080,8443') } }]);
    await expect(checkEdge(ctxFor(ports), ports)).rejects.toThrow(/listens on ports 8080 and 8443, and proxy\.edge asks for 80 and 443/);
    const ca = new ScriptedRunner(hostConfig('a'), [
      { match: /check the edge container/, answer: { stdout: running('80,443') } },
      {
        match: /list the routes/,
        answer: { stdout: 'blog.example.com root blog\nblog.example.com site.json {"service":"blog","tls":"auto","redirect":true,"hsts":false}\n' },
      },
      { match: /read the edge settings/, answer: { stdout: JSON.stringify({ httpPort: 80, httpsPort: 443, acme: {}, internal: [], files: [] }) } },
    ]);
    await expect(checkEdge(ctxFor(ca), ca)).rejects.toThrow(
      /gets certificates from Let's Encrypt for other services, and proxy\.acme asks for https:\/\/ca\.test\/dir/,
    );
    expect([...writes(ports), ...writes(ca)]).toEqual([]);
  });

  it('on a running edge with unchanged settings: routes only; no start, no reload, no settings write', async () => {
    const { edgeConfigText } = await import('../../src/edge/caddy.js');
    const settings = { httpPort: 80, httpsPort: 443, acme: { ca: 'https://ca.test/dir' }, internal: [], files: [] };
    const h = new ScriptedRunner(hostConfig('a'), [
      { match: /check the edge container/, answer: { stdout: running('80,443') } },
      { match: /list the routes/, answer: { stdout: 'app.example.com root web\n' } },
      { match: /read the edge settings/, answer: { stdout: JSON.stringify(settings) } },
      {
        match: /read the edge config/,
        answer: (_c, line) => ({ stdout: edgeConfigText(settings, line.includes('edge-2.6-0.json') ? 'caddy-2.6' : 'caddy-2.7+', 0) }),
      },
      { match: /read the certificates/, answer: { stdout: '' } },
    ]);
    const check = await checkEdge(ctxFor(h), h);
    await applyEdge(ctxFor(h), h, check!);
    expect(writes(h).filter((w) => /edge generation|start the edge/.test(w))).toEqual([]);
    expect(writes(h)).not.toContain('record the edge settings');
    expect(writes(h)).toContain('route app.example.com to web');
  });

  it('replaces a generation whose config changed: the next slot starts, takes new connections, and the previous one retires', async () => {
    const settings = { httpPort: 80, httpsPort: 443, acme: { ca: 'https://ca.test/dir' }, internal: [], files: [] };
    const h = new ScriptedRunner(hostConfig('a'), [
      // Slot 1 is still retiring from an earlier change, and a generation that finished is left exited.
      {
        match: /check the edge container/,
        answer: { stdout: running('80,443', 0, 'boxship-edge-retiring-1|running|img|generation|1|\nboxship-edge-retiring-4|exited|img|generation|4|\n') },
      },
      { match: /list the routes/, answer: { stdout: '' } },
      { match: /read the edge settings/, answer: { stdout: JSON.stringify(settings) } },
      { match: /read the edge config/, answer: { stdout: 'an older boxship wrote this' } },
      { match: /read the certificates/, answer: { stdout: '' } },
    ]);
    const check = await checkEdge(ctxFor(h), h);
    await applyEdge(ctxFor(h), h, check!);
    expect(writes(h).filter((w) => /edge/.test(w) && !/^route/.test(w))).toEqual([
      'remove edge generations that finished retiring',
      'write the edge config',
      'write the edge config',
      'write the edge config',
      'write the edge config',
      'set the edge generation in slot 0 aside',
      'start the edge (generation in slot 2)',
      'wait until the edge answers',
      'send new connections to the edge generation in slot 2',
      'retire the edge generation in slot 0 once its connections end',
    ]);
    expect(h.ran.find((r) => r.why === 'start the edge (generation in slot 2)')!.line).toContain('--network container:boxship-edge-ports');
    expect(h.ran.find((r) => r.why === 'obtain the certificate of app.example.com')!.line).toContain('10445');
  });

  it('puts the previous generation back when the next one does not come up, and says why', async () => {
    const settings = { httpPort: 80, httpsPort: 443, acme: { ca: 'https://ca.test/dir' }, internal: [], files: [] };
    const h = new ScriptedRunner(hostConfig('a'), [
      { match: /check the edge container/, answer: { stdout: running('80,443') } },
      { match: /list the routes/, answer: { stdout: '' } },
      { match: /read the edge settings/, answer: { stdout: JSON.stringify(settings) } },
      { match: /read the edge config/, answer: { stdout: 'old' } },
      { match: /wait until the edge answers/, answer: { code: 1, stderr: 'the edge does not answer; its log: bind: address in use' } },
    ]);
    const check = await checkEdge(ctxFor(h), h);
    await expect(applyEdge(ctxFor(h), h, check!)).rejects.toThrow(/does not answer/);
    expect(writes(h).slice(-3)).toEqual([
      'wait until the edge answers',
      'remove the edge generation that did not come up',
      'put the previous edge generation back',
    ]);
    expect(writes(h)).not.toContain('send new connections to the edge generation in slot 1');
  });

  it('replaces a generation on another image only when proxy.edge.image names one', async () => {
    const { edgeConfigText } = await import('../../src/edge/caddy.js');
    const settings = { httpPort: 80, httpsPort: 443, acme: { ca: 'https://ca.test/dir' }, internal: [], files: [] };
    const answers = [
      { match: /check the edge container/, answer: { stdout: running('80,443') } },
      { match: /list the routes/, answer: { stdout: '' } },
      { match: /read the edge settings/, answer: { stdout: JSON.stringify(settings) } },
      {
        match: /read the edge config/,
        answer: (_c: unknown, line: string) => ({ stdout: edgeConfigText(settings, line.includes('edge-2.6-') ? 'caddy-2.6' : 'caddy-2.7+', 0) }),
      },
      { match: /read the certificates/, answer: { stdout: '' } },
    ];
    const unpinned = new ScriptedRunner(hostConfig('a'), answers);
    await applyEdge(ctxFor(unpinned), unpinned, (await checkEdge(ctxFor(unpinned), unpinned))!);
    expect(writes(unpinned).filter((w) => /generation/.test(w))).toEqual([]);
    const pinnedConfig = { ...config, proxy: { ...config.proxy, site: { ...site, edge: { ...site.edge, image: 'boxship-proxy:caddy-2.11.4' } } } } as Config;
    const pinned = new ScriptedRunner(hostConfig('a'), answers);
    const ctx = { ...ctxFor(pinned), config: pinnedConfig };
    await applyEdge(ctx, pinned, (await checkEdge(ctx, pinned))!);
    expect(pinned.ran.find((r) => r.why === 'start the edge (generation in slot 1)')!.line).toContain('boxship-proxy:caddy-2.11.4');
  });
});
