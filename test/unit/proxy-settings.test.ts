/** A change of app.port or the health check, rolled out slot by slot: which settings each (slot, colour) gets. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { caddyConfig } from '../../src/proxy/caddy-config.js';
import { beginTransition, proxyInput, settingsFor, settle, type SettingsState } from '../../src/proxy/settings.js';
import { moveSteps } from '../../src/rollout/swap.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-settings-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  ['service: hello', 'hosts: [root@h1]', 'instances: 2', 'app: { port: 4000 }', 'healthcheck: { path: /ready }'].join('\n'),
  join(dir, 'boxship.yml'),
);
const OLD = { appPort: 3000, healthPath: '/health', healthPort: 3000 };
const NEW = { appPort: 4000, healthPath: '/ready', healthPort: 4000 };

/** Slot 1 serves blue, slot 2 green, when the change begins. */
const state: SettingsState = { steady: OLD, transition: beginTransition(OLD, NEW, { '1': 'blue', '2': 'green' }) };

/** The dial addresses of every leaf of the proxy's colour tree. */
function dials(json: unknown): string[] {
  const out = new Set<string>();
  JSON.stringify(json, (k, v) => {
    if (k === 'dial' && typeof v === 'string') out.add(v);
    return v;
  });
  return [...out].sort();
}

describe('a settings change in a transition', () => {
  it("keeps each slot's live colour on the old settings and gives the other colour the new ones", () => {
    expect(settingsFor(state, NEW, 1, 'blue')).toEqual(OLD);
    expect(settingsFor(state, NEW, 1, 'green')).toEqual(NEW);
    expect(settingsFor(state, NEW, 2, 'green')).toEqual(OLD);
    expect(settingsFor(state, NEW, 2, 'blue')).toEqual(NEW);
    expect(settingsFor({ steady: OLD }, NEW, 1, 'green')).toEqual(OLD);
  });

  it('dials each upstream on its own port, and turns active checks off while the health path changes', () => {
    const json = caddyConfig(proxyInput(config, 2, state));
    expect(dials(json)).toEqual(['hello-1-blue:3000', 'hello-1-green:4000', 'hello-2-blue:4000', 'hello-2-green:3000']);
    expect(JSON.stringify(json)).not.toContain('health_checks');
    // A port-only change keeps the checks: each upstream is checked on the port it is dialled on.
    const portOnly: SettingsState = { steady: OLD, transition: beginTransition(OLD, { ...NEW, healthPath: '/health' }, { '1': 'blue', '2': 'blue' }) };
    const text = JSON.stringify(caddyConfig(proxyInput(config, 2, portOnly)));
    expect(text).toContain('"health_checks"');
    expect(text).not.toContain('"port"');
    // Steady: one port, checks on.
    expect(dials(caddyConfig(proxyInput(config, 2, { steady: NEW })))).toEqual([
      'hello-1-blue:4000',
      'hello-1-green:4000',
      'hello-2-blue:4000',
      'hello-2-green:4000',
    ]);
  });

  it('settles on the new settings when every slot moved, on the old ones when every slot is back, else waits', () => {
    const t = state.transition!;
    expect(settle(t, { '1': 'green', '2': 'blue' })).toBe('new');
    expect(settle(t, { '1': 'blue', '2': 'green' })).toBe('old');
    expect(settle(t, { '1': 'green', '2': 'green' })).toBe('mixed');
  });

  it('starts an old-colour instance with the old PORT and checks it on the old path', () => {
    const s = moveSteps(config, { host: 'h1', slot: 1, from: 'new', fromColour: 'green', to: 'old', colour: 'blue' }, '/s', undefined, OLD);
    expect(s.start?.argv).toEqual(expect.arrayContaining(['-e', 'PORT=3000']));
    expect(s.wait?.argv).toContain('http://hello-1-blue:3000/health');
    const plain = moveSteps(config, { host: 'h1', slot: 1, from: 'old', fromColour: 'blue', to: 'new', colour: 'green' }, '/s');
    expect(plain.start?.argv.join(' ')).not.toContain('PORT=');
    expect(plain.wait?.argv).toContain('http://hello-1-green:4000/ready');
  });
});
