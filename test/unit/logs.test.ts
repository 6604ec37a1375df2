import { describe, expect, it } from 'vitest';
import { toShell } from '../../src/hosts/command.js';
import { containerLogs, listLogSources, parseLogSources } from '../../src/logs/commands.js';
import { formatLine, LineSplitter, mergeByTime, splitTimestamp, timeKey, type LogLine } from '../../src/logs/lines.js';

const ID1 = 'a'.repeat(64);
const ID2 = 'b'.repeat(64);
const ID3 = 'c'.repeat(64);

describe('logs: remote commands', () => {
  it('lists the instances by label and the proxy by exact name', () => {
    expect(toShell(listLogSources('hello', true))).toBe(
      `sh -c 'docker ps --no-trunc --filter "label=$1=$2" --filter "label=$4" --format "$3"\ndocker ps --no-trunc --filter "name=^$5$" --format "$3"' sh dev.boxship.service hello '{{.ID}}\t{{.Label "dev.boxship.slot"}}\t{{.Label "dev.boxship.colour"}}\t{{.Names}}' dev.boxship.slot hello-proxy`,
    );
    expect(listLogSources('hello', false).argv).toHaveLength(8);
  });

  it('reads one container with timestamps, stderr merged, options as separate words', () => {
    expect(toShell(containerLogs(ID1, { since: '10m', lines: 50 }))).toBe(`sh -c '"$@" 2>&1' sh docker logs --timestamps --since 10m --tail 50 ${ID1}`);
    expect(toShell(containerLogs(ID1, { since: '1h; rm -rf /' }))).toBe(`sh -c '"$@" 2>&1' sh docker logs --timestamps --since '1h; rm -rf /' ${ID1}`);
  });

  it('follows until the channel stdin closes', () => {
    const cmd = containerLogs(ID1, { follow: true, lines: 10 });
    expect(cmd.argv.slice(3)).toEqual(['sh', 'docker', 'logs', '--timestamps', '--follow', '--tail', '10', ID1]);
    expect(cmd.argv[2]).toBe('exec 3<&0\n"$@" 2>&1 <&- & p=$!\n(cat >/dev/null; kill "$p" 2>/dev/null) <&3 >/dev/null 2>&1 &\nexec 3<&-\nwait "$p"');
  });

  it('names sources by slot and colour (stable across the .next rename) and the proxy as proxy', () => {
    const text = [`${ID1}\t1\tblue\thello-1`, `${ID2}\t2\tgreen\thello-2.next`, `${ID3}\t\t\thello-proxy`, 'garbage', ''].join('\n');
    expect(parseLogSources(text, 'hello')).toEqual([
      { id: ID1, label: 'hello-1/blue' },
      { id: ID2, label: 'hello-2/green' },
      { id: ID3, label: 'proxy' },
    ]);
  });
});

describe('logs: lines', () => {
  it('cuts chunks into whole lines', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb')).toEqual(['a']);
    expect(s.push('c\r\nd\n')).toEqual(['bc', 'd']);
    expect(s.push('tail')).toEqual([]);
    expect(s.flush()).toEqual(['tail']);
  });

  it('splits docker timestamps and orders by time whatever the fraction length', () => {
    expect(splitTimestamp('2026-11-25T18:22:40.5Z hello world')).toEqual({ time: '2026-11-25T18:22:40.5Z', text: 'hello world' });
    expect(splitTimestamp('no time here')).toEqual({ time: '', text: 'no time here' });
    expect(timeKey('2026-11-25T18:22:40.5Z') > timeKey('2026-11-25T18:22:40.05Z')).toBe(true);
    expect(timeKey('2026-11-25T18:22:40Z') < timeKey('2026-11-25T18:22:40.000000001Z')).toBe(true);
    expect(timeKey('2026-11-25T19:22:40+01:00')).toBe(timeKey('2026-11-25T18:22:40Z'));
  });

  it('merges hosts and instances by time, keeping each source in order on ties', () => {
    const l = (host: string, source: string, time: string, text: string): LogLine => ({ host, source, time, text });
    const merged = mergeByTime([
      l('a', 'hello-1/blue', '2026-11-25T18:00:02Z', 'a2'),
      l('a', 'hello-1/blue', '2026-11-25T18:00:03Z', 'a3'),
      l('b', 'hello-1/blue', '2026-11-25T18:00:01.5Z', 'b1'),
      l('b', 'hello-1/blue', '2026-11-25T18:00:03Z', 'b3'),
      l('b', 'proxy', '2026-11-25T18:00:02.25Z', 'p'),
    ]);
    expect(merged.map((x) => x.text)).toEqual(['b1', 'a2', 'p', 'a3', 'b3']);
    expect(formatLine(merged[0]!, 16)).toBe('b hello-1/blue   | b1');
    expect(formatLine(merged[0]!, 0, true)).toBe('b hello-1/blue | 2026-11-25T18:00:01.5Z b1');
  });
});
