/**
 * `proxy:` of boxship.yml: the reverse proxy in front of the instances on each host, and what it answers when no
 * instance can (Retry-After, the back-off header).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { imageRef, port, wholeNumber } from './fields.js';

const DEFAULT_PROXY_IMAGE = 'boxship-proxy:caddy-2.6.2';
// RFC 9110 token characters.
const HEADER_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const proxy = z
  .strictObject({
    image: imageRef('Image of the proxy in front of the instances, e.g. boxship-proxy:caddy-2.6.2 or caddy:2.').default(DEFAULT_PROXY_IMAGE),
    port: port().default(8080).describe('Port the proxy listens on, published on the host.'),
    bind: z
      .string({ error: 'expected an IP address' })
      .refine((value) => isIP(value) !== 0, { error: 'expected an IP address' })
      .default('0.0.0.0')
      .describe('Host address the proxy port is published on; 127.0.0.1 keeps it local.'),
    retry_after: wholeNumber(0, 3600).default(5).describe('Seconds in the Retry-After header when no instance can answer.'),
    backoff_header: z
      .string({ error: 'expected an HTTP header name' })
      .regex(HEADER_RE, { error: 'expected an HTTP header name' })
      .default('X-Backoff')
      .describe('Header the proxy adds when it asks clients to back off.'),
  })
  .prefault({})
  .describe('The reverse proxy that switches traffic between releases.');
