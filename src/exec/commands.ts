/**
 * The one-off container of `boxship exec` and of hooks (pure): `docker run --rm --pull never` of a release's image with
 * what the app's instances get (env file with secrets, BOXSHIP_SHA, volumes, the service network, the addresses of
 * the accessories on other hosts), but no instance
 * labels and no network alias, so it never counts as an instance nor takes proxy traffic.
 */
import type { Config, RoleConfig } from '../config/types.js';
import type { Command } from '../hosts/command.js';
import { accessoryHostArgs, envFilePath, volumeArgs } from '../rollout/instance-commands.js';
import { names, shaOfTag } from '../fleet/names.js';
import { shortSha } from '../util/short.js';

/** On a one-off container (the service's name as value): found by `boxship remove`, never counted as an instance. */
export const ONE_OFF_LABEL = 'dev.boxship.one-off';

export interface OneOffSpec {
  /** The host it runs on (HostConfig.name): which accessories it reaches on other hosts. */
  host: string;
  tag: string;
  /** Absolute state dir on the host (env file, volumes). */
  stateDirAbs: string;
  /** The command and its arguments; empty: the image's own CMD. */
  argv: string[];
  /** Keep stdin open (docker run -i). */
  interactive?: boolean;
  /** Allocate a terminal (docker run -t). */
  tty?: boolean;
  /** What BOXSHIP_INSTANCE says inside, e.g. hello-exec or hello-hook. */
  instance?: string;
  /** The container's name (docker run --name), for a hook that may have to be removed when it runs too long. */
  name?: string;
  /** `exec --role`: as that role's containers run: its env and stop signal, and its command when argv is empty. */
  role?: RoleConfig;
}

export function oneOffRun(config: Config, spec: OneOffSpec): Command {
  const s = config.service;
  const argv = ['docker', 'run', '--rm', '--pull', 'never'];
  if (spec.name) argv.push('--name', spec.name);
  if (spec.interactive) argv.push('-i');
  if (spec.tty) argv.push('-t');
  argv.push('--network', names.network(s), '--label', `${ONE_OFF_LABEL}=${s}`, ...accessoryHostArgs(config, spec.host));
  // The app's image, so the app's way to stop: `boxship remove` stops a one-off that still runs with docker stop.
  const stopSignal = spec.role ? spec.role.stopSignal : config.app.stopSignal;
  if (stopSignal) argv.push('--stop-signal', stopSignal);
  argv.push('--env-file', envFilePath(spec.stateDirAbs));
  argv.push('-e', `BOXSHIP_SHA=${shaOfTag(spec.tag)}`, '-e', `BOXSHIP_INSTANCE=${spec.instance ?? `${s}-${spec.role ? `${spec.role.name}-` : ''}exec`}`);
  if (spec.role) argv.push('-e', `BOXSHIP_ROLE=${spec.role.name}`, ...Object.entries(spec.role.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]));
  argv.push(...volumeArgs(config, spec.stateDirAbs));
  const words = spec.argv.length === 0 && spec.role ? spec.role.cmd : spec.argv;
  // The image, then the user's words as they are: "--" is not needed, docker stops parsing options at the image.
  argv.push(names.image(s, spec.tag), ...words);
  return {
    argv,
    effect: 'write',
    why: `run ${words.length ? words.join(' ').slice(0, 60) : 'the default command'} in a one-off ${names.image(s, shortSha(spec.tag))} container`,
  };
}

/** Succeeds when the env file is there, i.e. the host was set up (setup, rollout or deploy wrote it). */
export function envFileExists(stateDirAbs: string): Command {
  return { argv: ['test', '-f', envFilePath(stateDirAbs)], why: 'check that the app env file exists', effect: 'read' };
}
