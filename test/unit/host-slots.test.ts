import { describe, expect, it } from 'vitest';
import { chooseLaneSlots, chooseSlot, conflict, slot, swarmSpecsFor, type MachineView } from '../helpers/host-slots.js';

const view = (v: Partial<MachineView>): MachineView => ({ containers: new Map(), published: new Map(), busy: new Set(), ...v });

describe('test-host slots', () => {
  it('slot 0 is the documented default fleet', () => {
    expect(slot(0)).toEqual({
      index: 0,
      hosts: ['a:2201:8081', 'b:2202:8082:ctrd'],
      bare: 'bare:2213:8093:bare',
      swarm: ['sw1:2214:8094:d20', 'sw2:2215:8095:d20'],
    });
    expect(slot(3)).toEqual({
      index: 3,
      hosts: ['s3a:2331:8331', 's3b:2332:8332:ctrd'],
      bare: 's3bare:2333:8333:bare',
      swarm: ['s3sw1:2334:8334:d20', 's3sw2:2335:8335:d20'],
    });
    expect(swarmSpecsFor('wbare:2273:8153:bare')).toEqual(['wsw1:2274:8154:d20', 'wsw2:2275:8155:d20']);
  });

  it('an empty machine or our own hosts: slot 0', () => {
    expect(chooseSlot('/me', view({})).slot.index).toBe(0);
    const ours = view({
      containers: new Map([['boxship-host-a', '/me']]),
      published: new Map([
        [2201, '/me'],
        [8081, '/me'],
      ]),
      busy: new Set([2201, 8081]),
    });
    expect(chooseSlot('/me', ours).slot.index).toBe(0);
  });

  it("another checkout's hosts push a fresh clone to the next free slot", () => {
    const other = view({ containers: new Map([['boxship-host-a', '/work/main']]), published: new Map([[2201, '/work/main']]) });
    const { slot: s, skipped } = chooseSlot('/check/work/main', other);
    expect(s.index).toBe(1);
    expect(skipped).toEqual(['slot 0: boxship-host-a belongs to /work/main']);
  });

  it('a port some other process holds rules a slot out; one published by our own host does not', () => {
    expect(conflict(slot(0), '/me', view({ busy: new Set([8093]) }))).toBe('port 8093 is in use');
    expect(conflict(slot(0), '/me', view({ published: new Map([[8082, '/them']]) }))).toBe("port 8082 is published by /them's host");
    expect(conflict(slot(0), '/me', view({ published: new Map([[8082, '/me']]), busy: new Set([8082]) }))).toBeUndefined();
  });

  it('keeps the remembered slot while it fits, even when a lower one is free', () => {
    expect(chooseSlot('/me', view({}), 4).slot.index).toBe(4);
    const taken = view({ containers: new Map([['boxship-host-s4a', '/them']]) });
    expect(chooseSlot('/me', taken, 4).slot.index).toBe(0);
  });

  it('says what to do when every slot is taken', () => {
    const all = view({ busy: new Set(Array.from({ length: 10000 }, (_, i) => 2000 + i)) });
    expect(() => chooseSlot('/me', all)).toThrow(/no free test-host slot.*set BOXSHIP_TEST_HOSTS/);
  });

  it('lanes of one checkout get distinct slots: their remembered ones while free, never one taken by another checkout or lane', () => {
    const other = view({ containers: new Map([['boxship-host-a', '/check/work/main']]) });
    const lanes = chooseLaneSlots([{ owner: '/me#lane-1' }, { owner: '/me#lane-2' }], other);
    expect(lanes.map((s) => s.index)).toEqual([1, 2]);
    // Both remember slot 3: the first keeps it, the second moves to the first free slot.
    const same = chooseLaneSlots(
      [
        { owner: '/me#lane-1', remembered: 3 },
        { owner: '/me#lane-2', remembered: 3 },
      ],
      view({}),
    );
    expect(same.map((s) => s.index)).toEqual([3, 0]);
    // A lane's own running hosts keep it on its slot.
    const up = view({ containers: new Map([['boxship-host-s5a', '/me#lane-2']]) });
    expect(
      chooseLaneSlots(
        [
          { owner: '/me#lane-1', remembered: 5 },
          { owner: '/me#lane-2', remembered: 5 },
        ],
        up,
      ).map((s) => s.index),
    ).toEqual([0, 5]);
  });
});
