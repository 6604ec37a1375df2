/**
 * proxy.hosts and the settings that go with it -> Config's `site`: what the server's edge needs to serve the service
 * by name. The checks that need the file system live here: certificate files that parse, a key that belongs to its
 * certificate and a certificate that covers every name (otherwise the edge would load it and serve the wrong
 * certificate to every client), and the ACME root file. Each problem points at its line in boxship.yml.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RawConfig } from '../schema.js';
import type { Site, SiteTls } from '../types.js';
import { type At, kind, PATH_HINT, requireFile } from './common.js';

export function toSite(raw: RawConfig['proxy'], dir: string, at: At): Site | undefined {
  if (!raw.hosts) {
    for (const key of ['path_prefix', 'acme'] as const)
      if (raw[key] !== undefined) at(['proxy', key], `proxy.${key} needs proxy.hosts`, 'add proxy.hosts: [app.example.com], or remove this key');
    return undefined;
  }
  const hosts = raw.hosts;
  const seen = new Set<string>();
  hosts.forEach((h, i) => {
    if (seen.has(h)) at(['proxy', 'hosts', i], `${h} is listed twice`, 'list each host name once');
    seen.add(h);
  });
  const tls = siteTls(raw.tls, hosts, dir, at);
  hosts.forEach((h, i) => {
    if (h.startsWith('*.') && tls.mode !== 'files')
      at(
        ['proxy', 'hosts', i],
        `a wildcard name (${h}) needs certificate files`,
        'set proxy.tls: { cert_file, key_file } to a wildcard certificate, or list the names one by one',
      );
  });
  const acme: Site['acme'] = {};
  if (raw.acme?.email) acme.email = raw.acme.email;
  if (raw.acme?.ca) acme.ca = raw.acme.ca;
  if (raw.acme?.ca_root) {
    const file = requireFile(at, dir, ['proxy', 'acme', 'ca_root'], raw.acme.ca_root, PATH_HINT);
    const pem = kind(file) === 'file' ? readPem(file, ['proxy', 'acme', 'ca_root'], at) : undefined;
    if (pem) acme.caRootPem = pem;
  }
  if (raw.acme && tls.mode !== 'auto') at(['proxy', 'acme'], `proxy.acme is only used with tls: auto (this service has tls: ${tls.mode})`, 'remove proxy.acme');
  return {
    hosts,
    ...(raw.path_prefix ? { pathPrefix: raw.path_prefix } : {}),
    tls,
    acme,
    redirectHttps: raw.redirect_https,
    hsts: raw.hsts,
    edge: { httpPort: raw.edge.http_port, httpsPort: raw.edge.https_port, ...(raw.edge.image ? { image: raw.edge.image } : {}) },
  };
}

function siteTls(raw: RawConfig['proxy']['tls'], hosts: string[], dir: string, at: At): SiteTls {
  if (typeof raw === 'string') return { mode: raw };
  const certFile = requireFile(at, dir, ['proxy', 'tls', 'cert_file'], raw.cert_file, PATH_HINT);
  const keyFile = requireFile(at, dir, ['proxy', 'tls', 'key_file'], raw.key_file, PATH_HINT);
  if (kind(certFile) === 'file' && kind(keyFile) === 'file') checkCertificate(certFile, keyFile, hosts, at);
  return { mode: 'files', certFile, keyFile };
}

function checkCertificate(certFile: string, keyFile: string, hosts: string[], at: At): void {
  const where = ['proxy', 'tls', 'cert_file'];
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (err) {
    at(where, `${certFile} is not a PEM certificate (${(err as Error).message})`, 'give the certificate chain in PEM, leaf first');
    return;
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))) {
      at(
        ['proxy', 'tls', 'key_file'],
        `${keyFile} is not the key of ${certFile} (${cert.subject.replace(/\n/g, ', ')})`,
        'give the key the certificate was issued for',
      );
    }
  } catch (err) {
    at(['proxy', 'tls', 'key_file'], `${keyFile} is not a PEM private key (${(err as Error).message})`, 'give the unencrypted private key in PEM');
  }
  for (const h of hosts) {
    // A wildcard name is covered when the certificate covers a name one label below it.
    const probe = h.startsWith('*.') ? `boxship-probe.${h.slice(2)}` : h;
    if (!cert.checkHost(probe))
      at(
        where,
        `${certFile} does not cover ${h} (it is for ${cert.subjectAltName ?? cert.subject})`,
        'use a certificate whose names include every entry of proxy.hosts',
      );
  }
  if (Date.parse(cert.validTo) < Date.now()) at(where, `${certFile} expired on ${cert.validTo}`, 'renew the certificate');
}

function readPem(file: string, where: string[], at: At): string | undefined {
  const text = readFileSync(file, 'utf8');
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    at(where, `${file} holds no PEM certificate`, 'give the CA root certificate in PEM');
    return undefined;
  }
  return text;
}
