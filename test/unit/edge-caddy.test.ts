import { describe, expect, it } from 'vitest';
import { type EdgeSettings, edgeConfig } from '../../src/edge/caddy.js';

const base: EdgeSettings = {
  httpPort: 80,
  httpsPort: 443,
  acme: { ca: 'https://ca.test/dir', email: 'ops@example.test', caRoot: true },
  internal: [],
  files: [],
};

type Json = Record<string, any>;
const servers = (c: Json) => c.apps.http.servers as Json;

describe('the edge config', () => {
  it('routes by host name (and first path segment) to the socket next to the route file, a new connection per request', () => {
    const c = edgeConfig(base, 'caddy-2.6', 0) as Json;
    const routes = servers(c).https.routes as Json[];
    const proxied = routes.filter((r) => r.handle[0].handler === 'reverse_proxy');
    expect(proxied).toHaveLength(2);
    for (const r of proxied) {
      expect(r.match[0].file).toEqual({
        root: '/run/boxship-edge/routes',
        try_files: ['{http.request.host}/p-{http.request.uri.path.0}', '{http.request.host}/root'],
      });
      expect(r.handle[0].upstreams).toEqual([{ dial: 'unix/{http.matchers.file.absolute}.sock' }]);
      expect(r.handle[0].transport.keep_alive).toEqual({ enabled: false });
    }
    // Small bodies buffered in the syntax of the Caddy that loads the file.
    expect(proxied[0]!.handle[0].buffer_requests).toBe(true);
    expect((edgeConfig(base, 'caddy-2.7+', 0) as Json).apps.http.servers.https.routes[2].handle[0].request_buffers).toBe(100000);
    // An unknown name gets a 404, never some other service.
    expect(routes.at(-1)!.handle[0].status_code).toBe(404);
  });

  it('redirects plain HTTP to HTTPS only for names with the redirect marker, keeping a non-default port', () => {
    const plain = servers(edgeConfig(base, 'caddy-2.6', 0) as Json).http;
    expect(plain.listen).toEqual([':10080']);
    expect(plain.routes[1].match[0].file.try_files).toEqual(['{http.request.host}/redirect']);
    expect(plain.routes[1].handle[0].headers.Location).toEqual(['https://{http.request.host}{http.request.uri}']);
    const other = servers(edgeConfig({ ...base, httpPort: 8080, httpsPort: 8443 }, 'caddy-2.6', 0) as Json);
    expect(other.http.routes[1].handle[0].headers.Location).toEqual(['https://{http.request.host}:8443{http.request.uri}']);
    // Public ports are NATed to the slot's own (edge/layout.ts): the listener is the slot's whatever they are.
    expect(other.https.listen).toEqual([':10443']);
  });

  it('obtains certificates on demand only for names with tls-auto, asked in the syntax of each Caddy', () => {
    const old = (edgeConfig(base, 'caddy-2.6', 0) as Json).apps.tls.automation;
    const now = (edgeConfig(base, 'caddy-2.7+', 0) as Json).apps.tls.automation;
    expect(old.on_demand).toEqual({ ask: 'http://127.0.0.1:2060/' });
    expect(now.on_demand).toEqual({ permission: { module: 'http', endpoint: 'http://127.0.0.1:2060/' } });
    expect(old.policies).toEqual([
      {
        on_demand: true,
        issuers: [{ module: 'acme', ca: 'https://ca.test/dir', email: 'ops@example.test', trusted_roots_pem_files: ['/run/boxship-edge/acme-ca-root.pem'] }],
      },
    ]);
    const ask = servers(edgeConfig(base, 'caddy-2.6', 0) as Json).ask;
    expect(ask.listen).toEqual(['127.0.0.1:2060']);
    expect(ask.routes[0].match[0].file.try_files).toEqual(['{http.request.uri.query.domain}/tls-auto']);
    expect(ask.routes[1].handle[0].status_code).toBe(404);
  });

  it("uses Let's Encrypt without a CA, names internal hosts in their own policy and loads certificate files", () => {
    const c = edgeConfig({ ...base, acme: {}, internal: ['b.test', 'a.test'], files: ['x.test'] }, 'caddy-2.6', 0) as Json;
    expect(c.apps.tls.automation.policies).toEqual([
      { subjects: ['a.test', 'b.test'], issuers: [{ module: 'internal' }] },
      { on_demand: true, issuers: [{ module: 'acme', ca: 'https://acme-v02.api.letsencrypt.org/directory' }] },
    ]);
    expect(c.apps.tls.certificates).toEqual({ load_files: [{ certificate: '/run/boxship-edge/certs/x.test.crt', key: '/run/boxship-edge/certs/x.test.key' }] });
    expect(c.storage).toEqual({ module: 'file_system', root: '/var/lib/boxship-edge' });
  });

  it('puts each generation slot on ports of its own, and a retiring generation answers with Connection: close', () => {
    const one = edgeConfig(base, 'caddy-2.6', 3) as Json;
    expect(one.admin.listen).toBe('localhost:2043');
    expect([servers(one).http.listen, servers(one).https.listen, servers(one).ask.listen]).toEqual([[':10083'], [':10446'], ['127.0.0.1:2063']]);
    expect([one.apps.http.http_port, one.apps.http.https_port]).toEqual([10083, 10446]);
    for (const name of ['http', 'https']) {
      expect(servers(one)[name].routes[0]).toEqual({
        match: [{ file: { root: '/tmp', try_files: ['/boxship-retiring'] } }],
        handle: [{ handler: 'headers', response: { set: { Connection: ['close'] } } }],
      });
    }
  });

  it('depends only on the server-wide settings: the same input is the same text (so setup reloads nothing)', () => {
    expect(JSON.stringify(edgeConfig(base, 'caddy-2.6', 0))).toBe(JSON.stringify(edgeConfig({ ...base }, 'caddy-2.6', 0)));
  });
});
