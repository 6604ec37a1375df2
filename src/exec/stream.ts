/**
 * Runs a remote command with its stdout and stderr streamed live, stdin forwarded and, for `-t`, a terminal. SshHost
 * (src/hosts/ssh.ts) has no streaming exec with a pty yet (Runner.exec collects stderr until the end); this reaches its ssh2 client until it has one.
 * TODO(hosts rework): move into SshHost as `stream(cmd, io)` and drop the cast below.
 */
import type { Readable, Writable } from 'node:stream';
import type { Client, ClientChannel, PseudoTtyOptions } from 'ssh2';
import { type Command, toShell } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { SshHost } from '../hosts/ssh.js';
import { HostError } from '../util/errors.js';

export interface StreamIo {
  stdout: Writable;
  stderr: Writable;
  /** Forwarded to the command; absent: the command's stdin is closed at once. */
  stdin?: Readable;
  /** Allocate a remote terminal of this size (stdout and stderr then arrive merged, as on any terminal). */
  pty?: PseudoTtyOptions;
  /** Called with the channel, e.g. to forward window size changes. */
  onChannel?(channel: ClientChannel): void;
}

export interface StreamResult {
  code: number | null;
  signal?: string;
}

export function streamCommand(ssh: Runner, cmd: Command, io: StreamIo): Promise<StreamResult> {
  if (!(ssh instanceof SshHost)) throw new HostError(ssh.name, `cannot stream "${cmd.why}": not an SSH connection${ssh.dryRun ? ' (a plan runs no one-off containers)' : ''}`);
  const client = (ssh as unknown as { client: Client }).client;
  return new Promise((resolve, reject) => {
    const onConnClose = () => reject(new HostError(ssh.name, `connection lost during: ${cmd.why}`, { hint: 'check the network and the host' }));
    const ready = (err: Error | undefined, channel: ClientChannel) => {
      if (err) return reject(new HostError(ssh.name, `cannot start "${cmd.why}": ${err.message}`));
      client.once('close', onConnClose);
      let exit: StreamResult = { code: null };
      channel.on('data', (chunk: Buffer) => io.stdout.write(chunk));
      channel.stderr.on('data', (chunk: Buffer) => io.stderr.write(chunk));
      channel.on('exit', (code: number | null, signal?: string) => (exit = { code: typeof code === 'number' ? code : null, signal: signal ?? undefined }));
      channel.on('close', () => {
        client.removeListener('close', onConnClose);
        io.stdin?.unpipe(channel);
        resolve(exit);
      });
      io.onChannel?.(channel);
      if (io.stdin) io.stdin.pipe(channel);
      else channel.end();
    };
    if (io.pty) client.exec(toShell(cmd), { pty: io.pty }, ready);
    else client.exec(toShell(cmd), ready);
  });
}
