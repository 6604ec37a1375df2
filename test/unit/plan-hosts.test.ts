import { describe, expect, it } from 'vitest';
import { probeVerdict, relayCandidates, relayChains, relayTarget, relayVerdict } from '../../src/ship/plan-hosts.js';
import { hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const KEY = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.alloc(36, 7)]);

describe('relay candidates', () => {
  const image = { ref: 'hello:abc', platform: { os: 'linux', architecture: 'amd64' } };
  it('are the reachable hosts whose inventory came in and that run the image platform', () => {
    const hosts = [
      { reachable: true, missing: [0, 1], platform: 'linux/amd64' },
      { reachable: false, missing: [0, 1], platform: 'linux/amd64' },
      { reachable: true, platform: 'linux/amd64' },
      { reachable: true, missing: [0, 1], platform: 'linux/arm64' },
      { reachable: true, missing: [1], platform: '' },
    ];
    expect(relayCandidates('auto', image, hosts)).toEqual([[0, 1], undefined, undefined, undefined, [1]]);
  });
  it('are nobody with ship.relay off', () => {
    expect(relayCandidates('off', image, [{ reachable: true, missing: [0], platform: 'linux/amd64' }])).toEqual([undefined]);
  });
});

describe('relay chains', () => {
  it('chains hosts that lack the same layers, the first of them the head, in host order', () => {
    const { chains, headOf } = relayChains([[0, 1], [0, 1], [1], [0, 1], [1]]);
    expect([...chains]).toEqual([
      [0, [1, 3]],
      [2, [4]],
    ]);
    expect([...headOf]).toEqual([
      [1, 0],
      [3, 0],
      [4, 2],
    ]);
  });

  it('leaves out hosts that cannot relay, that lack nothing, or whose missing layers nobody shares', () => {
    const { chains, headOf } = relayChains([undefined, [0], [], [], [1], [0, 1]]);
    expect(chains.size).toBe(0);
    expect(headOf.size).toBe(0);
  });
});

describe("a head's relay probe", () => {
  it('relays to the members it reached; the others are sent directly, with the reason or "no answer"', () => {
    const { relay, failed } = probeVerdict('ok h1\nfail h2 Permission denied (publickey).\n', [1, 2, 3]);
    expect(relay).toEqual([1]);
    expect([...failed]).toEqual([
      [2, 'Permission denied (publickey).'],
      [3, 'no answer'],
    ]);
  });
});

describe('what a relay brought', () => {
  const ids = { classic: 'sha256:c', containerd: 'sha256:m' };
  it('is the image when the hop succeeded and the host shows the ID its store must give it', () => {
    expect(relayVerdict({ ok: true, ids, id: 'sha256:m' }, 'containerd')).toEqual({ ok: true, imageId: 'sha256:m' });
  });
  it('is a direct send otherwise, saying why', () => {
    expect(relayVerdict({ ok: true, ids, id: 'sha256:m' }, 'classic')).toEqual({ ok: false, why: 'it shows image sha256:m, expected sha256:c' });
    expect(relayVerdict({ ok: false, ids, error: 'connection refused' }, 'classic')).toEqual({ ok: false, why: 'connection refused' });
  });
});

describe('relay targets', () => {
  it('reach a member at its relay_address, under the host key the deployer checked', () => {
    const plain = { host: hostConfig('web-b'), ssh: new ScriptedRunner(hostConfig('web-b')).withHostKey(KEY) };
    const behind = { ...plain, host: { ...hostConfig('web-c'), relayAddress: { user: 'deploy', hostname: '10.0.0.6', port: 2222 } } };
    expect(relayTarget([plain, plain], 1)).toEqual({
      label: 'h1',
      dest: 'root@web-b',
      port: 22,
      knownHostsLine: `web-b ssh-ed25519 ${KEY.toString('base64')}`,
    });
    expect(relayTarget([plain, behind], 1)).toMatchObject({
      dest: 'deploy@10.0.0.6',
      port: 2222,
      knownHostsLine: `[10.0.0.6]:2222 ssh-ed25519 ${KEY.toString('base64')}`,
    });
  });
});
