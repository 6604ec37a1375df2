/**
 * What the edge has for each host name's certificate (issuer, expiry), read from the files Caddy keeps, and the last
 * reason it gave for not getting one, in words a user can act on. Pure: the text comes from edge/commands.ts.
 */
import { X509Certificate } from 'node:crypto';

export interface CertInfo {
  host: string;
  issuer: string;
  /** ISO time. */
  notAfter: string;
}

/** readCertificates' output -> the newest certificate per host name. */
export function parseCertificates(text: string): CertInfo[] {
  const byHost = new Map<string, CertInfo>();
  for (const block of text.split(/^== /m).slice(1)) {
    const nl = block.indexOf('\n');
    const path = block.slice(0, nl).trim();
    const host = /([^/]+)\.crt$/.exec(path)?.[1];
    if (!host) continue;
    try {
      const cert = new X509Certificate(block.slice(nl + 1));
      const issuer = /^(?:CN|O)=(.+)$/m.exec(cert.issuer)?.[1] ?? cert.issuer.replace(/\n/g, ', ');
      const info = { host, issuer, notAfter: new Date(cert.validTo).toISOString() };
      const prev = byHost.get(host);
      if (!prev || prev.notAfter < info.notAfter) byHost.set(host, info);
    } catch {
      // A file Caddy is writing right now; the next status reads it.
    }
  }
  return [...byHost.values()];
}

/** The last error the edge's log has about obtaining `host`'s certificate, as a reason in words (undefined: none). */
export function lastCertificateError(log: string, host: string): string | undefined {
  const lines = log.split('\n').filter((l) => l.includes(`"${host}"`) && /"level":"error"|"error":/.test(l));
  const last = lines.at(-1);
  if (!last) return undefined;
  let detail = last;
  try {
    const entry = JSON.parse(last) as { error?: string; msg?: string };
    detail = entry.error ?? entry.msg ?? last;
  } catch {
    // not JSON: the line itself
  }
  return `${reasonOf(detail)} (${detail.slice(0, 300)})`;
}

function reasonOf(detail: string): string {
  if (/rateLimited|too many (certificates|requests|failed)/i.test(detail)) return 'rate limited by the CA: wait, or use its staging directory while testing';
  if (/NXDOMAIN|no such host|DNS problem|no valid A records|SERVFAIL/i.test(detail))
    return 'the name does not resolve to this server for the CA: check its DNS A/AAAA records';
  if (/connection refused|Timeout|timeout|i\/o timeout|Connection reset|Fetching http/i.test(detail))
    return 'the CA could not reach port 80 of this server: open it in the firewall';
  if (/unauthorized|Invalid response|403/i.test(detail)) return 'something else answered the challenge on port 80: is another web server in front of the edge?';
  if (/x509|certificate signed by unknown authority/i.test(detail)) return "the CA's own HTTPS endpoint is not trusted: set proxy.acme.ca_root";
  return 'the CA refused the order';
}
