/**
 * An image built for another platform is refused for a host before anything is sent (exit 2 material: the user must
 * rebuild with build.platform). The image here is the local Debian base with its config saying arm64.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Docker from 'dockerode';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { openFleet } from '../../src/hosts/fleet.js';
import { shipImage } from '../../src/ship/ship-image.js';
import { BoxshipError } from '../../src/util/errors.js';
import { silent } from '../../src/util/events.js';
import { exampleConfigYaml, makeExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { onHost, wipeHost } from '../helpers/run.js';

const ARM = 'boxship-test-arm64:1';

/** debian:bookworm-slim re-labelled as linux/arm64: same layers, a config that says arm64. */
function makeArmImage(): string {
  const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
  execFileSync('sh', ['-c', `docker save debian:bookworm-slim | tar -x -C "${dir}"`]);
  const manifest = JSON.parse(execFileSync('cat', [join(dir, 'manifest.json')], { encoding: 'utf8' })) as {
    Config: string;
    RepoTags: string[];
    Layers: string[];
  }[];
  const cfgPath = join(dir, manifest[0]!.Config);
  const cfg = JSON.parse(execFileSync('cat', [cfgPath], { encoding: 'utf8' })) as Record<string, unknown>;
  cfg.architecture = 'arm64';
  cfg.variant = 'v8';
  execFileSync('sh', ['-c', `cat > "${cfgPath}"`], { input: JSON.stringify(cfg) });
  manifest[0]!.RepoTags = [ARM];
  execFileSync('sh', ['-c', `cat > "${join(dir, 'manifest.json')}"`], { input: JSON.stringify(manifest) });
  const load = spawnSync('sh', ['-c', `tar -C "${dir}" -c . | docker load && rm -rf "${dir}"`], { encoding: 'utf8' });
  if (load.status !== 0) throw new Error(`docker load of ${ARM} failed: ${load.stderr}`);
  return execFileSync('docker', ['image', 'inspect', '--format', '{{.Id}}', ARM], { encoding: 'utf8' }).trim();
}

describe('platforms', () => {
  let armId: string;
  beforeAll(async () => {
    armId = makeArmImage();
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
  });

  it('refuses an arm64 image for amd64 hosts before sending anything, naming both platforms and the fix', async () => {
    const app = makeExampleApp();
    const config = parseConfig(exampleConfigYaml(), join(app.dir, 'boxship.yml'));
    const fleet = await openFleet(config.hosts);
    const connections = fleet.connections;
    try {
      const summary = await shipImage({
        config,
        docker: new Docker(),
        image: { imageId: armId, ref: 'hello:arm', tag: 'arm', sha: 'arm' },
        connections,
        report: silent,
      });
      for (const [i, h] of HOSTS.entries()) {
        const r = summary.hosts[i]!;
        expect(r.ok, h.name).toBe(false);
        expect(r.bytesSent).toBe(0);
        expect(r.error).toBeInstanceOf(BoxshipError);
        expect((r.error as BoxshipError).exitCode).toBe(2);
        expect(r.error!.message).toBe(`${h.address}: image hello:arm is built for linux/arm64/v8 but the host runs linux/amd64; nothing was sent`);
        expect((r.error as BoxshipError).hint).toContain('build.platform: linux/amd64');
        // Nothing reached the host: no upload, no image, no ledger entry.
        expect(
          (
            await onHost(h.container, 'ls /root/.boxship/hello/incoming 2>/dev/null; cat /root/.boxship/hello/releases.jsonl 2>/dev/null; docker image ls -q')
          ).trim(),
          h.name,
        ).toBe('');
      }
    } finally {
      fleet.close();
    }
  });
});
