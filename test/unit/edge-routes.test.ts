import { describe, expect, it } from 'vitest';
import type { Site } from '../../src/config/types.js';
import { parseRoutes, planRoutes } from '../../src/edge/routes.js';

const site = (o: Partial<Site> = {}): Site => ({
  hosts: ['app.example.com'],
  tls: { mode: 'auto' },
  acme: {},
  redirectHttps: true,
  hsts: false,
  edge: { httpPort: 80, httpsPort: 443 },
  ...o,
});

const listing = [
  'app.example.com root web',
  'app.example.com site.json {"service":"web","tls":"auto","redirect":true,"hsts":false}',
  'api.example.com p-v1 api',
  'api.example.com site.json {"service":"api","tls":"auto","redirect":true,"hsts":false}',
  'old.example.com root shop',
].join('\n');

describe('edge routes', () => {
  it('reads the listing of the edge', () => {
    const r = parseRoutes(listing);
    expect(r.entries).toEqual([
      { host: 'app.example.com', entry: 'root', service: 'web' },
      { host: 'api.example.com', entry: 'p-v1', service: 'api' },
      { host: 'old.example.com', entry: 'root', service: 'shop' },
    ]);
    expect(r.hosts.get('api.example.com')?.service).toBe('api');
  });

  it("refuses a name another service serves, and one it shares with different TLS settings; writes and removes only the service's own", () => {
    const r = parseRoutes(listing);
    expect(planRoutes('shop', site(), r).conflicts).toEqual(['app.example.com is already served by the service web on this host']);
    // Another prefix of a shared name is fine when the settings agree, refused when they do not.
    expect(planRoutes('shop', site({ hosts: ['api.example.com'] }), r).conflicts).toEqual([]);
    expect(planRoutes('shop', site({ hosts: ['api.example.com'], hsts: true }), r).conflicts).toEqual([
      'api.example.com is shared with the service api, which serves it with tls auto, redirect_https true, hsts false',
    ]);
    const plan = planRoutes('shop', site({ hosts: ['shop.example.com'] }), r);
    expect(plan).toEqual({ conflicts: [], write: [{ host: 'shop.example.com' }], remove: [{ host: 'old.example.com', entry: 'root', service: 'shop' }] });
    // The same service again: no conflict with itself, and nothing to write while the route is as boxship.yml says.
    expect(planRoutes('web', site(), r)).toEqual({ conflicts: [], write: [], remove: [] });
    expect(planRoutes('web', site({ hsts: true }), r).write).toEqual([{ host: 'app.example.com' }]);
    // Without proxy.hosts every route of the service goes.
    expect(planRoutes('web', undefined, r).remove).toEqual([{ host: 'app.example.com', entry: 'root', service: 'web' }]);
  });
});
