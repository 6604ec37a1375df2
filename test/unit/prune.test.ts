/** Pruning old releases after `release`: never the current, previous or any in-use release; never under another's lock. */
import { describe, expect, it } from 'vitest';
import { pruneReleases } from '../../src/ship/prune.js';
import type { LedgerEntry } from '../../src/state/ledger.js';
import { containerLine, hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const entry = (tag: string): LedgerEntry => ({ tag, sha: tag, imageId: `sha256:${tag}`, time: 't', user: 'u', bytes: 1 });
const ledger = ['r6', 'r5', 'r4', 'r3', 'r2', 'r1'].map(entry); // newest first

function host(deploys: string[], containers: string[] = [], accessories: string[] = []) {
  return new ScriptedRunner(hostConfig('h1'), [
    { match: /^read the deploy history$/, answer: { stdout: deploys.map((tag) => JSON.stringify({ tag, time: 't', who: 'w', kind: 'rollout' })).join('\n') } },
    { match: /^list the hello instances$/, answer: { stdout: containers.join('\n') } },
    { match: /^list the hello accessories$/, answer: { stdout: accessories.join('\n') } },
  ]);
}

describe('pruneReleases', () => {
  it('keeps the newest `keep`, plus the current, previous and in-use releases, and says why', async () => {
    // keep 2 = r6, r5. r2 served, then r3 (current); an instance still runs r4.
    const h = host(['r1', 'r2', 'r3'], [containerLine('hello', 'hello-1', 'r4', 1, 'blue')]);
    const r = await pruneReleases(h, 'hello', ledger, 2);
    expect(r.removed).toEqual(['r1']);
    expect(r.kept).toEqual([
      { tag: 'r4', why: 'a container uses it' },
      { tag: 'r3', why: 'it is the current release' },
      { tag: 'r2', why: 'it is the previous release (rollback)' },
    ]);
    expect(h.whys()).toEqual([
      'take the deploy lock (boxship release (pruning old releases))',
      'read the deploy history',
      'list the hello instances',
      'list the hello accessories',
      'remove old release r1',
      'release the deploy lock',
    ]);
  });

  it('never removes the image an accessory runs, and never looks at other accessory images (they are not releases)', async () => {
    // r1 is run by an accessory (a worker on the service's image); the cache's image is no release at all.
    const h = host(['r5', 'r6'], [], ['worker\thello:r1', 'cache\tboxship-test-redis:1']);
    const r = await pruneReleases(h, 'hello', ledger, 2);
    expect(r.removed).toEqual(['r4', 'r3', 'r2']);
    expect(r.kept).toEqual([{ tag: 'r1', why: 'accessory worker uses it' }]);
    expect(h.whys().filter((w) => w.startsWith('remove'))).toEqual(['remove old release r4', 'remove old release r3', 'remove old release r2']);
  });

  it('removes nothing while another command holds the deploy lock', async () => {
    const h = host([]).on({ match: /^take the deploy lock/, answer: { code: 75, stdout: '{"age":1,"info":{}}' } });
    const r = await pruneReleases(h, 'hello', ledger, 2);
    expect(r).toMatchObject({ removed: [], skipped: expect.stringContaining('holds the deploy lock') });
    expect(h.whys().some((w) => w.startsWith('remove'))).toBe(false);
  });

  it('does not even look when there is nothing beyond `keep`', async () => {
    const h = host([]);
    expect(await pruneReleases(h, 'hello', ledger.slice(0, 2), 2)).toEqual({ removed: [], kept: [] });
    expect(h.ran).toEqual([]);
  });
});
