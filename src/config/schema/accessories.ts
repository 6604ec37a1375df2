/**
 * `accessories:` of boxship.yml: long-lived companions of the app (a database, a cache). Apart from app: because an
 * accessory is never swapped by a rollout and names its own hosts; convert.ts checks those are in hosts:.
 */
import { z } from 'zod';
import { command, envName, envValue, hostRef, imageRef, ipAddress, localPath, port, stopSignal, volumes, wholeNumber } from './fields.js';

const ACCESSORY_NAME_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

const accessory = z
  .strictObject({
    image: imageRef(
      'Image of the accessory as the Docker engine on this machine names it (docker build -t, docker pull, docker load here), e.g. redis:7.2; shipped to its hosts layer-thin like a release, never pulled there.',
    ),
    host: hostRef().optional().describe('The host it runs on, as written in hosts: (or its host name). Default: the first host.'),
    hosts: z
      .array(hostRef(), { error: 'expected a list of hosts from hosts:' })
      .min(1, { error: 'expected at least one host' })
      .optional()
      .describe('The hosts it runs on, one container on each (each with its own data), as written in hosts:. Default: the first host.'),
    port: port()
      .optional()
      .describe(
        "Port it listens on inside its container: after a start boxship waits until it listens there. The app reaches it as <name>:<port> on every host: on the service network where it runs, elsewhere at its first host's private_address, where it is then published (only there); else not published unless publish is set.",
      ),
    publish: ipAddress()
      .optional()
      .describe(
        'Host address to also publish port on (the same port number), e.g. 127.0.0.1; absent: reachable only on the service network (and, from the hosts without it, on its private_address).',
      ),
    env: z.record(envName(), envValue()).default({}).describe('Environment variables of the accessory.'),
    secrets_file: localPath()
      .optional()
      .describe(
        'Local KEY=VALUE file (one per line, # comments) whose values are passed to the accessory as environment variables; written to its hosts in a 0600 env file, kept out of argv and logs.',
      ),
    volumes: volumes(
      'Data folders kept across restarts, releases and `accessory down`: name (a folder ~/.boxship/<service>/accessories/<accessory>/<name> on the host) -> absolute path in the container, or { path, mode: ro }.',
    ),
    cmd: command()
      .optional()
      .describe(
        'Command of the container, replacing the image\'s CMD: a list of words, or a string split at spaces (no shell), e.g. [redis-server, --appendonly, "yes"]. Absent: the image\'s own.',
      ),
    stop_timeout_seconds: wholeNumber(0, 3600)
      .default(30)
      .describe('Seconds docker stop waits for it to shut down cleanly (restart, down, recreate) before it kills it.'),
    stop_signal: stopSignal('the accessory'),
  })
  .superRefine((value, ctx) => {
    if (value.host !== undefined && value.hosts !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'host and hosts are both set', params: { hint: 'keep one of them' } });
    }
    if (value.publish !== undefined && value.port === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['publish'],
        message: 'publish needs port: it publishes that port',
        params: { hint: 'set port to the port the accessory listens on, or remove publish' },
      });
    }
  })
  .describe('A long-lived companion of the app (a database, a cache), started when missing and never swapped by a rollout.');

export const accessories = z
  .record(
    z
      .string()
      .max(40, { error: 'expected an accessory name of at most 40 characters' })
      .regex(ACCESSORY_NAME_RE, { error: 'expected an accessory name: lowercase letters, digits and single -, starting with a letter' }),
    accessory,
  )
  .optional()
  .describe(
    'Long-lived companions of the app, e.g. db: { image, port, volumes }: each runs as the container <service>-<name> on the service network, where the app reaches it by its name; started by setup, rollout and deploy when missing; managed with boxship accessory up|down|restart|logs NAME.',
  );
