/**
 * What `status` says of the edge for one service on one host: whether the edge runs, and for each of the service's
 * host names its certificate (issuer, expiry) or, without one, the last reason the edge gave, in words.
 */
import type { Config } from '../config/types.js';
import type { Runner } from '../hosts/runner.js';
import { lastCertificateError, parseCertificates } from './certs.js';
import { certificateLog, edgeState, parseEdgeState, readCertificates } from './commands.js';

export interface EdgeStatus {
  status: string;
  names: { host: string; tls: string; certificate: { issuer: string; notAfter: string } | null; error?: string }[];
}

export async function edgeStatus(config: Config, ssh: Runner): Promise<EdgeStatus | undefined> {
  const site = config.proxy.site;
  if (!site) return undefined;
  const state = parseEdgeState(await ssh.run(edgeState()));
  const tls = site.tls.mode;
  if (state.status !== 'running') return { status: state.status, names: site.hosts.map((host) => ({ host, tls, certificate: null })) };
  const certs = tls === 'off' ? [] : parseCertificates(await ssh.run(readCertificates(site.hosts)));
  const missing = tls !== 'off' && site.hosts.some((h) => !certs.some((c) => c.host === h));
  const log = missing ? await ssh.run(certificateLog()) : '';
  return {
    status: state.status,
    names: site.hosts.map((host) => {
      const c = certs.find((x) => x.host === host);
      const error =
        c || tls === 'off' ? undefined : (lastCertificateError(log, host) ?? 'none obtained yet (it is obtained at setup, or at the first HTTPS request)');
      return { host, tls, certificate: c ? { issuer: c.issuer, notAfter: c.notAfter } : null, ...(error ? { error } : {}) };
    }),
  };
}
