/**
 * `proxy:` of boxship.yml: the reverse proxy in front of the instances on each host, and what it answers when no
 * instance can (Retry-After, the back-off header); with `hosts`, the service is also served by the server's edge
 * (src/edge: one Caddy per server on :80/:443, shared by every boxship service there, TLS, routed by hostname).
 */
import { z } from 'zod';
import { imageRef, ipAddress, localPath, port, wholeNumber } from './fields.js';

const DEFAULT_PROXY_IMAGE = 'boxship-proxy:caddy-2.6.2';
// RFC 9110 token characters.
const HEADER_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * A DNS name of two or more labels, lower case (the edge finds a route by the name as the client sends it, and
 * clients send it lower-cased), optionally `*.` in front. The edge keys its route files by this name, so the
 * character set is also what keeps a name a single path component.
 */
const HOSTNAME_RE = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** One path segment: the edge routes by the first segment of the path (see edge/caddy.ts). */
const PREFIX_RE = /^\/[A-Za-z0-9._~-]+$/;

const hostname = () =>
  z.string({ error: 'expected a host name such as app.example.com' }).refine((v) => v.length <= 253 && HOSTNAME_RE.test(v), {
    error: 'expected a lower-case host name such as app.example.com (a wildcard only as *.example.com)',
  });

const tls = z
  .union(
    [
      z.enum(['auto', 'internal', 'off']),
      z.strictObject({
        cert_file: localPath().describe('PEM certificate chain (leaf first) on this machine.'),
        key_file: localPath().describe('PEM private key of that certificate, on this machine.'),
      }),
    ],
    { error: 'expected auto, internal, off, or { cert_file, key_file }' },
  )
  .describe(
    "auto: certificates from an ACME CA (Let's Encrypt unless proxy.acme.ca says otherwise), obtained on the server by HTTP-01 and renewed there. internal: Caddy's own local CA (for a private network). off: plain HTTP on the edge's HTTP port only. { cert_file, key_file }: certificate files from this machine.",
  );

const acme = z
  .strictObject({
    email: z.email({ error: 'expected an email address' }).optional().describe('Contact address given to the CA (expiry notices).'),
    ca: z
      .url({ error: 'expected the https URL of an ACME directory' })
      .optional()
      .describe("ACME directory URL; Let's Encrypt's production directory when absent."),
    ca_root: localPath().optional().describe("PEM file (on this machine) of the root that signs the CA's own HTTPS endpoint, for a private CA."),
  })
  .describe('The ACME CA used by tls: auto. One CA per server: every service on a server with tls: auto must name the same one.');

const edge = z
  .strictObject({
    http_port: port().default(80).describe('Port of the edge for plain HTTP (ACME HTTP-01 challenges and the redirect to HTTPS).'),
    https_port: port().default(443).describe('Port of the edge for HTTPS.'),
    image: imageRef(
      "Image of the server's edge (Caddy, with iptables: boxship's proxy images have it). Absent: a new edge runs proxy.image, and a running one keeps its own. Set: an edge on another image is replaced by one on this, with no lost request (the previous one finishes its connections).",
    ).optional(),
  })
  .prefault({})
  .describe('Ports (and image) of the server-wide edge. Every service on a server must agree on the ports.');

export const proxy = z
  .strictObject({
    image: imageRef('Image of the proxy in front of the instances, e.g. boxship-proxy:caddy-2.6.2 or caddy:2.').default(DEFAULT_PROXY_IMAGE),
    port: port()
      .optional()
      .describe('Port the proxy listens on, published on the host. 8080 without proxy.hosts; with proxy.hosts, published only when written.'),
    bind: ipAddress().default('0.0.0.0').describe('Host address the proxy port is published on; 127.0.0.1 keeps it local.'),
    retry_after: wholeNumber(0, 3600).default(5).describe('Seconds in the Retry-After header when no instance can answer.'),
    backoff_header: z
      .string({ error: 'expected an HTTP header name' })
      .regex(HEADER_RE, { error: 'expected an HTTP header name' })
      .default('X-Backoff')
      .describe('Header the proxy adds when it asks clients to back off.'),
    hosts: z
      .array(hostname(), { error: 'expected a list of host names' })
      .min(1, { error: 'expected at least one host name' })
      .optional()
      .describe("Host names the server's edge serves this service on (its ports 80 and 443, shared with the other services there)."),
    path_prefix: z
      .string({ error: 'expected a path prefix such as /api' })
      .regex(PREFIX_RE, { error: 'expected one path segment such as /api' })
      .optional()
      .describe('Serve only requests whose path starts with this segment (the app sees the whole path); another service may serve the rest of the name.'),
    tls: tls.default('auto'),
    acme: acme.optional(),
    redirect_https: z.boolean({ error: 'expected true or false' }).default(true).describe('With TLS, answer plain HTTP with a redirect to HTTPS.'),
    hsts: z.boolean({ error: 'expected true or false' }).default(false).describe('With TLS, send Strict-Transport-Security (one year).'),
    edge,
  })
  .prefault({})
  .describe('The reverse proxy that switches traffic between releases.');
