/**
 * The deployer's ssh-agent reaches a relay head only when ship.relay_agent says forward, and then only on the relay's
 * own commands (the probe and the hop); without it the head uses its own key, and a host it cannot reach gets a
 * direct send with a note that says why.
 */
import { describe, expect, it } from 'vitest';
import { relayProbes } from '../../src/ship/relay.js';
import { hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

function fleet() {
  const runners = [0, 1].map((i) =>
    new ScriptedRunner(hostConfig(`h${i}`), [{ match: /over SSH \(relay\)/, answer: { stdout: 'ok h1\n' } }]).withHostKey(Buffer.from(`key${i}`)),
  );
  return { runners, connections: runners.map((ssh) => ({ host: ssh.config, ssh })) };
}

describe('the relay probe and the ssh-agent', () => {
  it('does not lend the agent with ship.relay_agent off (the default)', async () => {
    const { runners, connections } = fleet();
    await relayProbes(connections, 'auto', 'off')(0, [1]);
    const probe = runners[0]!.ran.find((r) => /relay/.test(r.why))!;
    expect(probe.agentForward).toBeUndefined();
  });

  it('lends it to the probe, and only the probe, with ship.relay_agent forward', async () => {
    const { runners, connections } = fleet();
    await relayProbes(connections, 'auto', 'forward')(0, [1]);
    expect(runners[0]!.ran.filter((r) => r.agentForward).map((r) => r.why)).toEqual([expect.stringMatching(/over SSH \(relay\)/)]);
  });
});
