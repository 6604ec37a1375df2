/**
 * `hooks:` of boxship.yml: commands run around a release and a rollout. Only their shape is checked here; which
 * backend can run which hook is convert.ts's concern.
 */
import { z } from 'zod';
import { wholeNumber } from './fields.js';

/** A hook's command: a string run with `sh -c`, or the words of the command (no shell). */
function hookCommand(description: string) {
  const error = 'expected a command: a string (run with sh -c) or a list of words';
  return z
    .union([z.string({ error }).min(1, { error }), z.array(z.string({ error }), { error }).min(1, { error })], { error })
    .optional()
    .describe(description);
}

export const hooks = z
  .strictObject({
    pre_release: hookCommand(
      'Run on this machine, in the folder of boxship.yml, before the build; a failure stops the release (exit 1, nothing built or shipped). For checks: tests, lint.',
    ),
    pre_rollout: hookCommand(
      'Run in a one-off container of the new release (app env, secrets, volumes, network) on the first host before any instance moves, e.g. a migration; a failure stops the rollout (exit 1, nothing serving changed).',
    ),
    post_rollout: hookCommand(
      'Run in a one-off container of the new release on the first host after a complete rollout (not after a canary step); a failure is reported (exit 1), the release keeps serving.',
    ),
    timeout_seconds: wholeNumber(1, 86_400)
      .default(600)
      .describe(
        'Seconds each hook may run; longer, it is stopped (its container removed) and counts as failed, so a hung migration does not hold the deploy lock for ever.',
      ),
  })
  .optional()
  .describe('Commands run around a release and a rollout; their output is shown and their exit code reported.');
