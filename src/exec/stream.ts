/** A remote command with its output streamed live (exec -it, logs -f): the runner's stream, where it has one. */
import type { Command } from '../hosts/command.js';
import type { Runner, StreamIo, StreamResult } from '../hosts/runner.js';
import { HostError } from '../util/errors.js';

export type { StreamIo, StreamResult };

export function streamCommand(ssh: Runner, cmd: Command, io: StreamIo): Promise<StreamResult> {
  if (!ssh.stream)
    throw new HostError(ssh.name, `cannot stream "${cmd.why}": not an SSH connection${ssh.dryRun ? ' (a plan runs no one-off containers)' : ''}`);
  return ssh.stream(cmd, io);
}
