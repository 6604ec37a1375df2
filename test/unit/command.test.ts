import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type Command, command, quote, script, sequence, toShell } from '../../src/hosts/command.js';
import { receiveAndLoad } from '../../src/ship/commands.js';
import { appendLedgerCommand, parseLedger, releasesNewestFirst } from '../../src/state/ledger.js';
import { tagsToPrune } from '../../src/ship/prune.js';
import { shims } from '../helpers/shims.js';

describe('remote commands', () => {
  it('quotes only what needs quoting', () => {
    expect(quote('docker')).toBe('docker');
    expect(quote('hello:abc')).toBe('hello:abc');
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote('')).toBe("''");
    expect(toShell(['echo', 'a b', '$HOME'])).toBe(`echo 'a b' '$HOME'`);
  });

  it('makes every command say whether it reads or writes: a forgotten one does not compile', () => {
    // @ts-expect-error a command without its effect is a type error, not a plan that runs or skips the wrong step
    const bare: Command = { argv: ['docker', 'ps'], why: 'list' };
    // @ts-expect-error the effect comes first, so an old call that starts with the why does not type-check
    command('list containers', 'docker', 'ps');
    expect(bare.argv).toEqual(['docker', 'ps']);
    const r = command('read', 'list', 'docker', 'ps');
    const w = command('write', 'stop', 'docker', 'stop', 'x');
    expect(sequence('both', [r, r]).effect).toBe('read');
    expect(sequence('both', [r, w]).effect).toBe('write');
  });

  it('passes script arguments positionally, never interpolated', () => {
    const c = script('write', 'x', 'echo "$1"', '$(rm -rf /)');
    expect(c.argv).toEqual(['sh', '-c', 'echo "$1"', 'sh', '$(rm -rf /)']);
    expect(toShell(c)).toBe(`sh -c 'echo "$1"' sh '$(rm -rf /)'`);
  });

  it('receives, checks each part before loading it, and tags only the image listed with the expected ID', () => {
    const c = receiveAndLoad('.boxship/hello', 'gzip', 'boxship-incoming:hello-1234', 'hello:abc');
    const body = c.argv[2]!;
    expect(body.indexOf('sha256sum')).toBeLessThan(body.indexOf('echo "$f $name" >&3'));
    expect(body.indexOf('wait "$lp"')).toBeLessThan(body.indexOf('docker image ls --no-trunc --format "{{.ID}}" "$incoming"'));
    expect(body.indexOf('[ "$id" = "$want" ]')).toBeLessThan(body.indexOf('docker tag "$incoming" "$tag"'));
    // Every name a part loaded as is removed on the way out, whatever happened.
    expect(body).toMatch(/trap cleanup EXIT/);
    expect(body).toMatch(/xargs docker rmi < "\$tmp\/names"/);
    expect(c.argv.slice(4)).toEqual(['.boxship/hello/incoming', 'gzip', 'boxship-incoming:hello-1234', 'hello:abc']);
  });
});

describe('receiving on a full disk', () => {
  it('fails as soon as a part cannot be written (every codec), before anything is handed to docker load', () => {
    // The real receive script, run here: what tee, gzip and wc write goes to /dev/full (a real ENOSPC), docker only
    // records its calls.
    const real = (c: string) => execFileSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).trim();
    const full = (c: string) => `exec ${real(c)} "$@" > /dev/full`;
    const host = shims('boxship-recv-', { tee: full('tee'), gzip: full('gzip'), wc: full('wc'), docker: 'echo "$*" >> "$DIR/docker.log"' });
    try {
      for (const codec of ['zstd', 'none', 'gzip'] as const) {
        const payload = codec === 'gzip' ? gzipSync('a layer') : Buffer.from('a layer');
        const sum = createHash('sha256').update(payload).digest('hex');
        const input = Buffer.concat([Buffer.from(`part ${payload.length} boxship-incoming:x\n`), payload, Buffer.from(`sum ${sum}\nend sha256:a sha256:b\n`)]);
        const c = receiveAndLoad(join(host.dir, `state-${codec}`), codec, 'boxship-incoming:x', 'hello:abc');
        const r = spawnSync(c.argv[0]!, c.argv.slice(1), { input, encoding: 'utf8', env: host.env });
        expect(r.status, `${codec}: ${r.stderr}`).toBe(5);
        expect(r.stderr).toMatch(/cannot write .*on the host.*: is its disk full\?/);
        expect(
          host
            .read('docker.log')
            .split('\n')
            .filter((l) => l.startsWith('load')),
        ).toEqual([]);
      }
    } finally {
      rmSync(host.dir, { recursive: true, force: true });
    }
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
