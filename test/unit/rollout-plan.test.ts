import { describe, expect, it } from 'vitest';
import { healthPolling } from '../../src/rollout/instance-commands.js';
import { type HostState, planRevert, planRollout, split } from '../../src/rollout/plan.js';

const fleet = (spec: Record<string, (string | null)[]>): HostState[] =>
  Object.entries(spec).map(([host, tags]) => ({ host, slots: tags.map((tag, i) => ({ slot: i + 1, tag, colour: tag ? ('blue' as const) : null })) }));

describe('planRollout', () => {
  it('moves every instance not on the target, host by host, slot by slot, into the idle colour', () => {
    const moves = planRollout(fleet({ a: ['old', 'old'], b: ['old', 'new'] }), 'new');
    expect(moves.map((m) => `${m.host}/${m.slot}:${m.from}->${m.to}:${m.colour}`)).toEqual(['a/1:old->new:green', 'a/2:old->new:green', 'b/1:old->new:green']);
  });

  it('fills empty slots on a first rollout', () => {
    const moves = planRollout(fleet({ a: [null, null] }), 'v1');
    expect(moves.map((m) => [m.from, m.colour])).toEqual([
      [null, 'blue'],
      [null, 'blue'],
    ]);
  });

  it('with --canary N moves only enough instances to have N on the target fleet-wide', () => {
    const f = fleet({ a: ['old', 'old'], b: ['old', 'old'] });
    expect(planRollout(f, 'new', { canary: 1 }).map((m) => `${m.host}/${m.slot}`)).toEqual(['a/1']);
    const after = fleet({ a: ['new', 'old'], b: ['old', 'old'] });
    expect(planRollout(after, 'new', { canary: 1 })).toEqual([]);
    expect(planRollout(after, 'new', { canary: 3 }).map((m) => `${m.host}/${m.slot}`)).toEqual(['a/2', 'b/1']);
    // Promotion: the same target without --canary moves the rest.
    expect(planRollout(after, 'new')).toHaveLength(3);
  });

  it('is empty when everything already runs the target', () => {
    expect(planRollout(fleet({ a: ['v'], b: ['v'] }), 'v')).toEqual([]);
  });
});

describe('planRevert', () => {
  it('undoes moves newest first, back to the release and away from the colour each replaced', () => {
    const moves = planRollout(fleet({ a: ['old', null] }), 'new');
    const back = planRevert(moves);
    expect(back.map((m) => `${m.host}/${m.slot}:${m.from}->${m.to}:${m.colour}`)).toEqual(['a/2:new->:green', 'a/1:new->old:blue']);
  });
});

describe('split', () => {
  it('counts instances per release', () => {
    expect(split(fleet({ a: ['new', 'old'], b: ['old', null] }))).toEqual({ new: 1, old: 2 });
  });
});

describe('healthPolling', () => {
  it('polls a starting instance every 250 ms at most, for retries x interval of wall time, each probe within the timeout', () => {
    expect(healthPolling(1000, 10, 2000)).toEqual({ stepMs: 250, budgetMs: 10_000, probeSeconds: 2 });
    expect(healthPolling(100, 5, 300)).toEqual({ stepMs: 100, budgetMs: 500, probeSeconds: 1 });
  });
});
