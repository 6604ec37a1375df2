/**
 * The accessory image of the tests and the demo: Redis from Debian's package on the local Debian base
 * (examples/redis/Dockerfile), built on this machine's engine once and reused while the Dockerfile is the same. No
 * registry: boxship ships it to the hosts like a release.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './paths.js';

export const REDIS_IMAGE = 'boxship-test-redis:1';
const DIR = join(REPO, 'examples', 'redis');
const LABEL = 'dev.boxship.test-dockerfile';

/** Builds REDIS_IMAGE unless it exists from the same Dockerfile; returns its reference. */
export function ensureRedisImage(): string {
  const hash = createHash('sha256')
    .update(readFileSync(join(DIR, 'Dockerfile')))
    .digest('hex')
    .slice(0, 16);
  let have = '';
  try {
    have = execFileSync('docker', ['image', 'inspect', '--format', `{{index .Config.Labels "${LABEL}"}}`, REDIS_IMAGE], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    /* not built yet */
  }
  if (have !== hash) {
    // The classic builder: it needs no buildx and works with every docker CLI here.
    execFileSync('docker', ['build', '-q', '--label', `${LABEL}=${hash}`, '-t', REDIS_IMAGE, DIR], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
  }
  return REDIS_IMAGE;
}
