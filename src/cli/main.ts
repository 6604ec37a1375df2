/**
 * boxship's command line: one thin file per command under ./commands; this file wires them into commander and turns
 * errors into messages and exit codes (see README "Exit codes").
 */
import { Command, CommanderError } from 'commander';
import { BoxshipError, ExitCode, errorMessage } from '../util/errors.js';
import { redactStream } from '../util/redact.js';
import { registerRelease } from './commands/release.js';
import { registerReleases } from './commands/releases.js';
import { registerPin } from './commands/pin.js';
import { registerExtraCommands } from './commands/index.js';
import { divertStdoutToStderr } from './json-output.js';

// First, before listr2 or commander capture the streams: no secret value leaves the process through them.
redactStream(process.stdout);
redactStream(process.stderr);

const program = new Command('boxship')
  .description('Build a Docker image, ship it over SSH to your servers (no registry), and roll it out behind Caddy.')
  .option('-c, --config <file>', 'the config file', 'boxship.yml')
  .option('--accept-new-host-keys', 'trust and record the SSH host key of hosts not yet in known_hosts (never a changed key)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addHelpText(
    'after',
    `
Examples:
  $ boxship init                    write a boxship.yml for the app in this folder
  $ boxship deploy                  release, then rollout, in one command
  $ boxship release                 build the current commit and ship it to every host
  $ boxship rollout                 put the newest release into service, one instance at a time
  $ boxship rollback                go back to the previous release (no transfer)
  $ boxship maintenance on          answer every request with 503 + Retry-After
  $ boxship logs -f                 follow the logs of every instance on every host
  $ boxship exec -- npm run migrate a one-off container of the serving release
  $ boxship accessory up db         start (or recreate after a change) the accessory db, e.g. a database

Exit codes:
  0  success
  1  the operation failed; nothing was left half-done (a failed rollout was rolled back)
  2  you must act first: bad input or config (nothing was touched), or a rollback that failed too
  130  interrupted (Ctrl-C): the move in flight finished, the locks were released; how far it got is printed`,
  );

// --json, on any command that offers it: stdout carries only the JSON document; progress and messages go to stderr.
program.hook('preAction', (_program, action) => {
  if (action.opts<{ json?: boolean }>().json) divertStdoutToStderr();
});

registerRelease(program);
registerReleases(program);
registerPin(program);
registerExtraCommands(program);

function fail(err: unknown): never {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : ExitCode.needsAction);
  }
  if (err instanceof BoxshipError) {
    process.stderr.write(`\nerror: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`\nerror: ${errorMessage(err)}\n`);
  if (process.env.BOXSHIP_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(ExitCode.failed);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
