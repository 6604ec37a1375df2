/**
 * The settings the proxy and the health check depend on (the app's port, the health path and port), and how a change
 * of them is rolled out without breaking the instances that still run with the old ones.
 *
 * Each host records the settings its proxy serves with (`proxy/settings.json`). A rollout that changes them starts a
 * transition: every slot's current colour keeps the old settings (its upstream is dialled on the old port, a move back
 * to that colour starts the old release with the old PORT and checks it the old way), the other colour gets the new
 * ones. Moves alternate colours, so "which settings" is a pure function of (slot, colour) for the whole transition,
 * including an automatic rollback, a canary and a later `rollback`. Once every slot runs on the new colour, the proxy
 * settles on the new settings; once every slot is back on its old colour, on the old ones. Active health checks have
 * one path per proxy, so while the path (or a fixed health port) changes they are off: traffic still goes only to the
 * colour each slot's marker names, every instance of which passed boxship's own check before it took traffic.
 */
import type { Config } from '../config/types.js';
import type { CaddyConfigInput, Colour } from './caddy-config.js';
import { caddyInputFromConfig, upstreamName } from './caddy-config.js';

export interface ProxySettings {
  appPort: number;
  healthPath: string;
  /** The health check's port (the app's port unless healthcheck.port says otherwise). */
  healthPort: number;
}

export interface Transition {
  from: ProxySettings;
  to: ProxySettings;
  /** Per slot, the colour that runs with `from` (the colour it had when the transition began). */
  oldColours: Record<string, Colour>;
}

/** What a host records: the settings its proxy serves with, and a transition in progress if any. */
export interface SettingsState {
  steady: ProxySettings;
  transition?: Transition;
}

export function settingsOf(config: Config): ProxySettings {
  return { appPort: config.app.port, healthPath: config.healthcheck.path, healthPort: config.healthcheck.port };
}

export function sameSettings(a: ProxySettings, b: ProxySettings): boolean {
  return a.appPort === b.appPort && a.healthPath === b.healthPath && a.healthPort === b.healthPort;
}

export function describeSettings(s: ProxySettings): string {
  return `port ${s.appPort}, health ${s.healthPath}${s.healthPort !== s.appPort ? ` on port ${s.healthPort}` : ''}`;
}

export function parseSettingsState(text: string): SettingsState | undefined {
  try {
    const v = JSON.parse(text) as SettingsState;
    return v && typeof v.steady?.appPort === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The settings an instance of `slot` in `colour` runs and is checked with. */
export function settingsFor(state: SettingsState | undefined, fallback: ProxySettings, slot: number, colour: Colour): ProxySettings {
  const t = state?.transition;
  if (!t) return state?.steady ?? fallback;
  return t.oldColours[String(slot)] === colour ? t.from : t.to;
}

/** Begins a transition from the host's settings to the config's, keeping each live slot's colour on the old ones. */
export function beginTransition(from: ProxySettings, to: ProxySettings, liveColours: Record<string, Colour | null>): Transition {
  const oldColours: Record<string, Colour> = {};
  for (const [slot, colour] of Object.entries(liveColours)) oldColours[slot] = colour ?? 'blue';
  return { from, to, oldColours };
}

/** After a run: where the transition stands, from the colour each slot's live instance has now. */
export function settle(t: Transition, liveColours: Record<string, Colour | null>): 'new' | 'old' | 'mixed' {
  const slots = Object.keys(t.oldColours);
  const onOld = slots.filter((s) => liveColours[s] === t.oldColours[s]).length;
  const empty = slots.filter((s) => liveColours[s] === null || liveColours[s] === undefined).length;
  if (onOld === 0 && empty < slots.length) return 'new';
  if (onOld + empty === slots.length) return 'old';
  return 'mixed';
}

/** The proxy's config input for a host in `state` (steady settings, or a transition's per-colour ports). */
export function proxyInput(config: Config, instances: number, state: SettingsState): CaddyConfigInput {
  const base = caddyInputFromConfig(config, instances);
  const t = state.transition;
  if (!t) return { ...base, appPort: state.steady.appPort, healthPath: state.steady.healthPath, healthPort: state.steady.healthPort };
  const upstreamPorts: Record<string, number> = {};
  for (let slot = 1; slot <= instances; slot++) {
    for (const colour of ['blue', 'green'] as const) upstreamPorts[upstreamName(config.service, slot, colour)] = settingsFor(state, t.to, slot, colour).appPort;
  }
  // One health path per proxy: checks stay on only when both generations are checked the same way (same path, and
  // the health port follows each upstream's own port).
  const followsPort = (s: ProxySettings) => s.healthPort === s.appPort;
  const activeHealth = t.from.healthPath === t.to.healthPath && followsPort(t.from) && followsPort(t.to);
  return { ...base, appPort: t.to.appPort, healthPath: t.to.healthPath, healthPort: t.to.appPort, upstreamPorts, activeHealth };
}
