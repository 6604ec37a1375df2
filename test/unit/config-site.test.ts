import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'boxship-site-'));
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
  // Two self-signed certificates: one for app.example.com, one for a wildcard; and a key of neither.
  const make = (name: string, san: string) =>
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${san}`,
        '-addext',
        `subjectAltName=DNS:${san}`,
        '-keyout',
        path.join(dir, `${name}.key`),
        '-out',
        path.join(dir, `${name}.crt`),
      ],
      { stdio: 'ignore' },
    );
  make('app', 'app.example.com');
  make('wild', '*.example.com');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(...lines: string[]) {
  const file = path.join(dir, 'boxship.yml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return loadConfig(file);
}
function problems(...lines: string[]): string {
  try {
    load(...lines);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.line}: ${p.message}`).join('\n');
  }
  throw new Error('expected the config to be rejected');
}

describe('proxy.hosts in boxship.yml', () => {
  it('serves by name with automatic TLS by default, and publishes no proxy port unless written', () => {
    const c = load('service: web', 'hosts: [a.example]', 'proxy:', '  hosts: [app.example.com, www.example.com]', '  acme: { email: ops@example.com }');
    expect(c.proxy.site).toEqual({
      hosts: ['app.example.com', 'www.example.com'],
      tls: { mode: 'auto' },
      acme: { email: 'ops@example.com' },
      redirectHttps: true,
      hsts: false,
      edge: { httpPort: 80, httpsPort: 443 },
    });
    expect(c.proxy.port).toBeUndefined();
    expect(load('service: web', 'hosts: [a.example]', 'proxy: { hosts: [app.example.com], port: 9000 }').proxy.port).toBe(9000);
    // Only proxy.port, as before: published on 8080, no site.
    const lab = load('service: web', 'hosts: [a.example]');
    expect(lab.proxy.port).toBe(8080);
    expect(lab.proxy.site).toBeUndefined();
  });

  it('refuses a bad host name, a wildcard without certificate files and a repeated name, at their lines', () => {
    expect(problems('service: web', 'hosts: [a.example]', 'proxy:', '  hosts:', '    - App.Example.com')).toMatch(/^5: expected a lower-case host name/);
    expect(problems('service: web', 'hosts: [a.example]', 'proxy:', '  hosts:', '    - "*.example.com"')).toMatch(
      /^5: a wildcard name \(\*\.example\.com\) needs certificate files/,
    );
    expect(problems('service: web', 'hosts: [a.example]', 'proxy:', '  hosts:', '    - a.example.com', '    - a.example.com')).toMatch(
      /^6: a\.example\.com is listed twice/,
    );
    expect(problems('service: web', 'hosts: [a.example]', 'proxy:', '  path_prefix: /api')).toMatch(/^4: proxy\.path_prefix needs proxy\.hosts/);
    expect(problems('service: web', 'hosts: [a.example]', 'proxy:', '  hosts: [a.example.com]', '  path_prefix: /api/v1')).toMatch(
      /^5: expected one path segment/,
    );
  });

  it('checks certificate files: the key must be the certificate key, and the certificate must cover every name', () => {
    const ok = load(
      'service: web',
      'hosts: [a.example]',
      'proxy:',
      '  hosts: ["*.example.com", b.example.com]',
      '  tls: { cert_file: wild.crt, key_file: wild.key }',
    );
    expect(ok.proxy.site?.tls).toEqual({ mode: 'files', certFile: path.join(dir, 'wild.crt'), keyFile: path.join(dir, 'wild.key') });
    expect(
      problems('service: web', 'hosts: [a.example]', 'proxy:', '  hosts: [app.example.com]', '  tls:', '    cert_file: app.crt', '    key_file: wild.key'),
    ).toMatch(/^7: .*wild\.key is not the key of .*app\.crt/);
    expect(
      problems('service: web', 'hosts: [a.example]', 'proxy:', '  hosts: [other.example.org]', '  tls:', '    cert_file: app.crt', '    key_file: app.key'),
    ).toMatch(/^6: .*app\.crt does not cover other\.example\.org/);
  });

  it('is refused on the Swarm backend with what to do instead', () => {
    expect(problems('service: web', 'backend: swarm', 'hosts: [a.example]', 'proxy:', '  hosts: [app.example.com]')).toMatch(
      /^5: the Swarm backend does not serve proxy\.hosts yet/,
    );
  });
});
