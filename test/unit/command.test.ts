import { describe, expect, it } from 'vitest';
import { quote, script, toShell } from '../../src/hosts/command.js';
import { loadAndTag, receive } from '../../src/ship/commands.js';
import { appendLedgerCommand, parseLedger, releasesNewestFirst } from '../../src/state/ledger.js';
import { tagsToPrune } from '../../src/ship/prune.js';

describe('remote commands', () => {
  it('quotes only what needs quoting', () => {
    expect(quote('docker')).toBe('docker');
    expect(quote('hello:abc')).toBe('hello:abc');
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote('')).toBe("''");
    expect(toShell(['echo', 'a b', '$HOME'])).toBe(`echo 'a b' '$HOME'`);
  });

  it('passes script arguments positionally, never interpolated', () => {
    const c = script('x', 'echo "$1"', '$(rm -rf /)');
    expect(c.argv).toEqual(['sh', '-c', 'echo "$1"', 'sh', '$(rm -rf /)']);
    expect(toShell(c)).toBe(`sh -c 'echo "$1"' sh '$(rm -rf /)'`);
  });

  it('receives into a .part file under the state dir', () => {
    const c = receive('.boxship/hello', 'hello_abc.1234.tar.gz.part');
    expect(c.argv.slice(-2)).toEqual(['.boxship/hello/incoming', '.boxship/hello/incoming/hello_abc.1234.tar.gz.part']);
  });

  it('tags only after checking size, checksum and the ID docker images shows, and removes a half-loaded image', () => {
    const c = loadAndTag('.boxship/hello', 'f.part', { bytes: 10, sha256: 'ab', imageId: 'sha256:cd' }, 'boxship-incoming:hello-1234', 'hello:abc');
    const body = c.argv[2]!;
    expect(body.indexOf('sha256sum')).toBeLessThan(body.indexOf('docker load'));
    expect(body.indexOf('docker load')).toBeLessThan(body.indexOf('docker image ls --no-trunc --format "{{.ID}}" "$incoming"'));
    expect(body.indexOf('[ "$id" = "$want" ]')).toBeLessThan(body.indexOf('docker tag "$incoming" "$6"'));
    // Both failure paths (load failed; loaded but not listed with the expected ID) remove the incoming record.
    expect(body.match(/docker rmi "\$incoming" >\/dev\/null 2>&1 \|\| true/g)).toHaveLength(2);
    expect(c.argv.slice(4)).toEqual(['.boxship/hello/incoming/f.part', '10', 'ab', 'sha256:cd', 'boxship-incoming:hello-1234', 'hello:abc']);
  });
});

describe('release ledger', () => {
  const e = (tag: string) => ({ tag, sha: tag, imageId: `sha256:${tag}`, time: 't', user: 'u', bytes: 1 });

  it('round-trips entries and skips a torn line', () => {
    const cmd = appendLedgerCommand('.boxship/hello', e('a'));
    const line = cmd.argv[5]!;
    expect(parseLedger(`${line}\n{"tag":"b","imag`)).toEqual([e('a')]);
  });

  it('lists newest first, once per tag', () => {
    expect(releasesNewestFirst([e('a'), e('b'), e('a'), e('c')]).map((x) => x.tag)).toEqual(['c', 'a', 'b']);
  });

  it('prunes beyond keep, never a protected tag', () => {
    const list = ['e', 'd', 'c', 'b', 'a'].map(e);
    expect(tagsToPrune(list, 2)).toEqual(['c', 'b', 'a']);
    expect(tagsToPrune(list, 2, new Set(['b']))).toEqual(['c', 'a']);
  });
});
