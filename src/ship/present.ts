/** A host's releases as its ledger records them, newest first, each marked with whether its image is still there. */
import type { Runner } from '../hosts/runner.js';
import { type LedgerEntry, readLedger, releasesNewestFirst } from '../state/ledger.js';
import { stateDir } from '../state/paths.js';
import { parsePresent, presentImages } from './commands.js';

export type HostRelease = LedgerEntry & { present: boolean };

export async function releasesOnHost(ssh: Runner, service: string): Promise<HostRelease[]> {
  const [ledger, present] = await Promise.all([
    readLedger(ssh, stateDir(service)).then(releasesNewestFirst),
    ssh.run(presentImages(service)).then(parsePresent),
  ]);
  return ledger.map((e) => ({ ...e, present: present.has(`${service}:${e.tag}`) }));
}
