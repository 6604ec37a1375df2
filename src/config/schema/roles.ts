/**
 * `roles:` of boxship.yml: processes of the same release beside the web one (queue consumers, schedulers), each with
 * its own command, hosts and instance count. Apart from app: because a role serves no HTTP through the proxy and is
 * judged healthy by a command in its container or by still running; convert/roles.ts checks the hosts.
 */
import { z } from 'zod';
import { command, envName, envValue, hostRef, stopSignal, wholeNumber } from './fields.js';

const ROLE_NAME_RE = /^[a-z][a-z0-9-]*$/;

const role = z
  .strictObject({
    cmd: command().describe(
      "Command of the role's containers (the release's image, its CMD replaced): a list of words, or a string split at spaces (no shell), e.g. [node, worker.js].",
    ),
    hosts: z
      .array(hostRef(), { error: 'expected a list of hosts from hosts:' })
      .min(1, { error: 'expected at least one host' })
      .optional()
      .describe('The hosts it runs on, as written in hosts:. Default: every host.'),
    instances: wholeNumber(1, 20).default(1).describe('Containers of the role on each of its hosts.'),
    env: z.record(envName(), envValue()).default({}).describe("Environment variables of the role, on top of app.env and the app's secrets."),
    proxy: z
      .boolean({ error: 'expected false' })
      .default(false)
      .describe('false (the default): the role serves no HTTP and gets no proxy traffic. A proxied role beside web is not supported yet.'),
    healthcheck: z
      .strictObject({
        cmd: command()
          .optional()
          .describe('A command run in the new container (docker exec) until it exits 0, for at most healthcheck.retries x healthcheck.interval.'),
        running_seconds: wholeNumber(1, 600)
          .optional()
          .describe('The new container counts as healthy once it is still running this many seconds after its start (default 5).'),
      })
      .superRefine((value, ctx) => {
        if (value.cmd !== undefined && value.running_seconds !== undefined)
          ctx.addIssue({ code: 'custom', path: ['running_seconds'], message: 'cmd and running_seconds are both set', params: { hint: 'keep one of them' } });
      })
      .optional()
      .describe('How a new container of the role is judged healthy: { cmd: [...] } or { running_seconds: N }. Default: still running after 5 seconds.'),
    stop_signal: stopSignal('the role'),
  })
  .describe('A process of the release beside the web one: same image, env file and network, its own command.');

export const roles = z
  .record(
    z
      .string()
      .max(30, { error: 'expected a role name of at most 30 characters' })
      .regex(ROLE_NAME_RE, { error: 'expected a role name: lowercase letters, digits and -, starting with a letter' })
      .refine((name) => name !== 'web', { error: 'expected a role name other than web (web is the app itself: app:, healthcheck:, instances:)' }),
    role,
  )
  .optional()
  .describe(
    'Processes of the release beside the web one, e.g. worker: { cmd: [node, worker.js] }: each runs as the containers <service>-<role>-<slot> on the service network; rollout moves them to the new release first, one instance at a time, and rolls them back with the web instances.',
  );
