/** `boxship exec -- CMD…`: a one-off container of the serving (or a named) release on one host; its exit code is ours. */
import type { Command } from 'commander';
import { ExitCode, InputError } from '../../util/errors.js';
import type { GlobalOptions } from '../context.js';
import { withBackend } from '../session.js';

interface ExecOptions {
  host?: string;
  role?: string;
  release?: string;
  interactive?: boolean;
  tty?: boolean;
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description("run a command in a one-off container of the serving release, with the app's env, secrets, volumes and network")
    .argument('[command...]', 'the command and its arguments, after --; none: the image’s own command')
    .option('--host <host>', 'the host to run on (default: the first in boxship.yml)')
    .option('--role <name>', "as that role's containers run (roles: in boxship.yml): its env, and its cmd when none is given; on its first host")
    .option('--release <sha>', 'run this shipped release instead of the serving one (a sha prefix is enough)')
    .option('-i, --interactive', 'forward this terminal’s input to the command')
    .option('-t, --tty', 'give the command a terminal (with -i for a shell)')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship exec -- node -e 'console.log(process.env.DATABASE_URL ? "db set" : "no db")'
  $ boxship exec -it -- sh                       a shell next to the app
  $ boxship exec --release 3f2a9c1 -- npm run migrate
  $ boxship exec --host 10.0.0.6 -- ls /app/db

The container is started with docker run --rm --pull never on the service network (boxship-<service>), with the env
file of the instances (~/.boxship/<service>/app.env), and the app's volumes; it is removed when the command ends.
The exit code is the command's (125 to 127 are docker's own: the container could not start or run the command).
Nothing serving changes; what the command itself does (to volumes, a database) is not undone.`,
    )
    .action(async (argv: string[], opts: ExecOptions, cmd: Command) => {
      if (opts.tty && !process.stdin.isTTY)
        throw new InputError('-t needs a terminal, and this input is not one', { hint: 'drop -t (keep -i to pipe input in)' });
      await withBackend(cmd.optsWithGlobals<GlobalOptions>(), async ({ backend }) => {
        const stdin = process.stdin;
        const raw = Boolean(opts.tty && stdin.isTTY);
        try {
          if (raw) stdin.setRawMode(true);
          const result = await backend.exec(
            { host: opts.host, argv, release: opts.release, interactive: opts.interactive, tty: opts.tty, ...(opts.role ? { role: opts.role } : {}) },
            {
              stdout: process.stdout,
              stderr: process.stderr,
              stdin: opts.interactive ? stdin : undefined,
              pty: opts.tty ? { rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80, term: process.env.TERM ?? 'xterm' } : undefined,
              onChannel: (channel) => {
                if (!opts.tty) return;
                const resize = () => channel.setWindow(process.stdout.rows ?? 24, process.stdout.columns ?? 80, 0, 0);
                process.stdout.on('resize', resize);
                channel.on('close', () => process.stdout.off('resize', resize));
              },
            },
          );
          process.exitCode = result.code ?? (result.signal ? 128 + signalNumber(result.signal) : ExitCode.failed);
        } finally {
          if (raw) stdin.setRawMode(false);
          if (opts.interactive) stdin.pause();
        }
      });
    });
}

function signalNumber(name: string): number {
  return ({ HUP: 1, INT: 2, QUIT: 3, KILL: 9, TERM: 15 } as Record<string, number>)[name.replace(/^SIG/, '')] ?? 0;
}
