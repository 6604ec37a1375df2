/** `boxship exec`: which release a one-off container runs on which host, then running it with the terminal attached. */
import type { Config } from '../config/types.js';
import type { Runner } from '../hosts/runner.js';
import { pickRelease } from '../fleet/releases.js';
import { releasesOnHost } from '../ship/present.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../state/deploys.js';
import { stateDir } from '../state/paths.js';
import { HostError, InputError } from '../util/errors.js';
import { envFileExists, oneOffRun, type OneOffSpec } from './commands.js';
import { type StreamIo, type StreamResult, streamCommand } from './stream.js';
import { shortSha } from '../util/short.js';

/** The release to run: the one named (a sha prefix, present on the host) or the one serving there. */
async function releaseToRun(ssh: Runner, config: Config, wanted?: string): Promise<string> {
  const present = (await releasesOnHost(ssh, config.service)).filter((r) => r.present);
  if (wanted !== undefined) {
    if (!present.some((r) => r.tag === wanted || r.tag.startsWith(wanted))) {
      throw new InputError(`release "${wanted}" has no image on ${ssh.name}`, {
        hint: `releases there: ${present.map((r) => shortSha(r.tag)).join(', ') || 'none'}; ship it with: boxship release`,
      });
    }
    return pickRelease({ everywhere: present }, wanted, [ssh.name]);
  }
  const { current } = currentAndPrevious(parseDeploys(await ssh.run(readDeploys(stateDir(config.service)))));
  if (!current)
    throw new InputError(`nothing serves on ${ssh.name} yet, so there is no release to run`, {
      hint: 'roll one out first (boxship deploy), or name a shipped one with --release <sha>',
    });
  if (!present.some((r) => r.tag === current))
    throw new HostError(ssh.name, `the serving release ${shortSha(current)} has no image on the host any more`, {
      hint: 'name another with --release <sha> (see: boxship releases)',
    });
  return current;
}

export interface ExecRequest extends Omit<OneOffSpec, 'host' | 'tag' | 'stateDirAbs'> {
  release?: string;
}

/** Runs the one-off container; resolves with the command's exit status (the CLI passes it through). */
export async function execOneOff(ssh: Runner, config: Config, req: ExecRequest, io: StreamIo): Promise<StreamResult & { tag: string }> {
  const tag = await releaseToRun(ssh, config, req.release);
  const stateDirAbs = `${await ssh.home()}/${stateDir(config.service)}`;
  if ((await ssh.exec(envFileExists(stateDirAbs), { allowFailure: true })).code !== 0) {
    throw new HostError(ssh.name, `the host has no app env file (${stateDirAbs}/app.env)`, { hint: 'run: boxship setup (or boxship deploy)' });
  }
  const result = await streamCommand(ssh, oneOffRun(config, { ...req, host: ssh.name, tag, stateDirAbs }), io);
  return { ...result, tag };
}
