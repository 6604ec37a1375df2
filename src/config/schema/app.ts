/**
 * `app:` and `healthcheck:` of boxship.yml: how the app runs in its container and how a new instance is judged
 * ready. Together because the health check's port defaults to app.port.
 */
import { z } from 'zod';
import { DURATION_FORMAT } from '../duration.js';
import { containerPath, duration, envName, envValue, localPath, port, seconds, stopSignal, volumes, wholeNumber } from './fields.js';

export const app = z
  .strictObject({
    port: port().default(3000).describe('Port the app listens on inside its container.'),
    env: z.record(envName(), envValue()).default({}).describe('Environment variables of the app.'),
    secrets_file: localPath()
      .optional()
      .describe('Local KEY=VALUE file (one per line, # comments) whose values are passed to the app as environment variables; kept out of images and logs.'),
    volumes: volumes(
      'Persistent folders: name (a folder in the service state dir on the host) -> absolute path in the container, or { path, mode: ro } to mount it read-only.',
    ),
    config_file: z
      .strictObject({
        env: envName().describe('Environment variable that tells the app where its config file is.'),
        path: containerPath().describe('Absolute path of the config file inside the container.'),
      })
      .optional()
      .describe('Tells the app where its config file is, e.g. { env: APP_CONFIG, path: /app/configs/app.json }.'),
    drain_seconds: seconds(3600).default(2).describe('Seconds an old instance keeps serving in-flight requests after it leaves the proxy.'),
    stop_timeout_seconds: wholeNumber(0, 3600).default(10).describe('Seconds docker stop waits before it kills the container.'),
    stop_signal: stopSignal('the app'),
  })
  .prefault({})
  .describe('How the app runs in its container.');

export const healthcheck = z
  .strictObject({
    path: z
      .string({ error: 'expected a URL path starting with /' })
      // RFC 3986 path and query characters only: it becomes a URL for wget in the proxy and for Caddy's checks.
      .regex(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/, { error: 'expected a URL path starting with /, without spaces or control characters' })
      .default('/health')
      .describe('HTTP path that answers 2xx when an instance is ready.'),
    port: port().optional().describe('Port of the health check inside the container; defaults to app.port.'),
    interval: duration('1s', `Time between checks: ${DURATION_FORMAT}.`),
    timeout: duration('2s', `Time one check may take: ${DURATION_FORMAT}.`),
    retries: wholeNumber(1, 1000).default(10).describe('Failed checks before the instance counts as unhealthy and the release is rolled back.'),
  })
  .prefault({})
  .describe('How a new instance is checked before it takes traffic.');
