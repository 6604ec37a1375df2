/**
 * The rollout plan as data (pure): which instance moves to which release, in what order. Hosts go one after
 * another, slots in order, one instance at a time; each move starts the slot's idle colour next to the live one, so
 * a slot never stops serving while its replacement is checked.
 */
import type { Colour } from '../proxy/caddy-config.js';

export type { Colour };

interface SlotState {
  slot: number;
  /** Release tag the slot runs now, or null if it has no instance. */
  tag: string | null;
  colour: Colour | null;
  /** Its instance's spec label (instance-commands.ts instanceSpec); absent: the defaults. */
  spec?: string;
  /** Its instance's accessory-hosts label (which accessories of other hosts it resolves where); absent: none. */
  accessoryHosts?: string;
}

export interface HostState {
  host: string;
  slots: SlotState[];
  /** The accessory-hosts label its instances need now (from boxship.yml); absent: none. */
  accessoryHosts?: string;
}

export interface Move {
  host: string;
  slot: number;
  from: string | null;
  fromColour: Colour | null;
  to: string;
  colour: Colour;
}

function otherColour(c: Colour | null): Colour {
  return c === 'blue' ? 'green' : 'blue';
}

/**
 * Every instance not yet on `target` (the release, started with `opts.spec`: one started with other settings is
 * replaced on the same release), or with `canary`, only enough to have `canary` instances on it fleet-wide. An
 * instance on `target` that resolves another host's accessory elsewhere than its host needs now (an accessory moved,
 * or a host's private address changed) is not on it either: it is started again, as any move, on the same release.
 */
export function planRollout(fleet: HostState[], target: string, opts: { canary?: number; spec?: string } = {}): Move[] {
  const pending: Move[] = [];
  let onTarget = 0;
  for (const h of fleet)
    for (const s of h.slots) {
      if (s.tag === target && s.spec === opts.spec && (s.accessoryHosts ?? '') === (h.accessoryHosts ?? '')) onTarget++;
      else pending.push({ host: h.host, slot: s.slot, from: s.tag, fromColour: s.colour, to: target, colour: otherColour(s.colour) });
    }
  if (opts.canary === undefined) return pending;
  return pending.slice(0, Math.max(0, opts.canary - onTarget));
}

/** Undo moves that were carried out, newest first, each back to the release it replaced. */
export function planRevert(done: Move[]): Move[] {
  return [...done].reverse().map((m) => ({ host: m.host, slot: m.slot, from: m.to, fromColour: m.colour, to: m.from ?? '', colour: otherColour(m.colour) }));
}

/** How the fleet is split across releases, e.g. { "abc": 1, "def": 3 } (what status shows during a canary). */
export function split(fleet: HostState[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of fleet) for (const s of h.slots) if (s.tag) out[s.tag] = (out[s.tag] ?? 0) + 1;
  return out;
}
