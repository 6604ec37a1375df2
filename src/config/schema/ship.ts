/**
 * `ship:` and `releases:` of boxship.yml: how images travel to the hosts and how many old ones each host keeps.
 * Together because both are about the images on the hosts, not about the running app.
 */
import { z } from 'zod';
import { wholeNumber } from './fields.js';

export const releases = z
  .strictObject({
    keep: wholeNumber(2, 100).default(5).describe('Releases (images) kept per host for rollback; older ones are removed.'),
  })
  .prefault({})
  .describe('How many old releases are kept.');

export const ship = z
  .strictObject({
    compression: z
      .enum(['auto', 'gzip', 'zstd', 'none'], { error: 'expected auto, gzip, zstd or none' })
      .default('auto')
      .describe(
        'How layers travel: auto (zstd when this machine has the zstd program and every host runs Docker 23 or later, else gzip), gzip, zstd, or none (for a link faster than the codec). Each layer is compressed once and cached.',
      ),
    relay: z
      .enum(['auto', 'off'], { error: 'expected auto or off' })
      .default('auto')
      .describe(
        'auto: when several hosts lack the same layers, send them once to the first host and let it forward them to the next over SSH (each host needs an SSH key, or a forwarded agent, that the next one accepts; see relay_address); a failed hop falls back to a direct send. off: every host gets its own copy.',
      ),
    relay_agent: z
      .enum(['forward', 'off'], { error: 'expected forward or off' })
      .default('off')
      .describe(
        "off: a relay head opens the next hop with its own SSH key (a deploy key the next host accepts); without one, hosts get direct sends. forward: lend the deployer's ssh-agent to the relay hop's command (only that one), so root on a relay head can use the deployer's keys while it runs.",
      ),
  })
  .prefault({})
  .describe('How images travel to the hosts.');
