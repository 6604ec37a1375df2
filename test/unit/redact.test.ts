import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { readSecretsFile } from '../../src/config/secrets.js';
import { toShell } from '../../src/hosts/command.js';
import { appendAudit } from '../../src/state/audit.js';
import { BoxshipError, HostError, errorMessage } from '../../src/util/errors.js';
import { addSecrets, clearSecrets, redact, redactStream } from '../../src/util/redact.js';

const DB_URL = 'mongodb://admin:S3cr3t-Pa55-xyz@db/app';
const PASSWORD = 'S3cr3t-Pa55-xyz';

afterEach(() => clearSecrets());

describe('redaction of secret values', () => {
  it('masks the value and keeps the line around it', () => {
    addSecrets([DB_URL]);
    expect(redact(`db: cannot connect to ${DB_URL}: authentication failed`)).toBe('db: cannot connect to ***: authentication failed');
    expect(redact(`${DB_URL}${DB_URL}\n${DB_URL}`)).toBe('******\n***');
  });

  it('masks the usual encodings: URL-encoded, form-encoded, JSON-escaped, base64', () => {
    const value = 'p@ss "word" with/slash';
    addSecrets([value]);
    expect(redact(`q=${encodeURIComponent(value)}&x=1`)).toBe('q=***&x=1');
    expect(redact(`q=${encodeURIComponent(value).replace(/%20/g, '+')}`)).toBe('q=***');
    expect(redact(`{"v":${JSON.stringify(value)}}`)).toBe('{"v":"***"}');
    expect(redact(`b64 ${Buffer.from(value).toString('base64')}.`)).toBe('b64 ***.');
  });

  it("masks a connection string's password on its own, raw and encoded", () => {
    addSecrets(['postgres://app:p%40ss%2Fw0rd@db:5432/app']);
    expect(redact('auth failed for app with password p@ss/w0rd')).toBe('auth failed for app with password ***');
    expect(redact('url postgres://app:p%40ss%2Fw0rd@db:5432/app')).toBe('url ***');
    addSecrets([DB_URL]);
    expect(redact(`retrying with ${encodeURIComponent(DB_URL)} (password ${PASSWORD})`)).toBe('retrying with *** (password ***)');
  });

  it('leaves values shorter than 4 characters alone, so everyday words are not mangled', () => {
    addSecrets(['yes', '1', 'abc']);
    expect(redact('yes: 1 abc')).toBe('yes: 1 abc');
    addSecrets(['abcd']);
    expect(redact('abc abcd')).toBe('abc ***');
  });

  it('masks a longer secret whole when it contains a shorter one, and treats regex characters literally', () => {
    addSecrets(['token', 'token-extended-value', 'a.b*c+(d)']);
    expect(redact('x token-extended-value y token z')).toBe('x *** y *** z');
    expect(redact('a.b*c+(d) aXbbbc+(d)')).toBe('*** aXbbbc+(d)');
  });

  it('is the identity before any secret is known', () => {
    expect(redact(`as is ${DB_URL}`)).toBe(`as is ${DB_URL}`);
  });

  it('remembers the values of a secrets file once it is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'boxship-redact-'));
    const file = join(dir, '.env.secrets');
    writeFileSync(file, `# comment\nDB_URL=${DB_URL}\nAPI_KEY=k3y-0f-the-api\nFLAG=on\n`);
    expect(readSecretsFile(file).DB_URL).toBe(DB_URL);
    expect(redact(`${DB_URL} k3y-0f-the-api on`)).toBe('*** *** on');
  });

  it('masks every write to a guarded stream, strings and buffers', () => {
    const chunks: string[] = [];
    const sink = new Writable({
      write: (c: Buffer, _e, cb) => {
        chunks.push(c.toString());
        cb();
      },
    });
    redactStream(sink);
    addSecrets([DB_URL]);
    sink.write(`error: ${DB_URL}\n`);
    sink.write(Buffer.from(`log ${PASSWORD}\n`));
    sink.write('plain\n', 'utf8');
    expect(chunks.join('')).toBe('error: ***\nlog ***\nplain\n');
  });

  it('masks error messages and hints when the error is made, and errorMessage of any error', () => {
    addSecrets([DB_URL]);
    const e = new HostError('root@h', `wait failed:\nFATAL cannot reach ${DB_URL}`, { hint: `check ${PASSWORD}` });
    expect(e.message).toBe('root@h: wait failed:\nFATAL cannot reach ***');
    expect(e.hint).toBe('check ***');
    expect(new BoxshipError(DB_URL).message).toBe('***');
    expect(errorMessage(new Error(`ssh2: ${DB_URL}`))).toBe('ssh2: ***');
    expect(errorMessage(`thrown ${DB_URL}`)).toBe('thrown ***');
  });

  it('writes audit entries without the secret', () => {
    addSecrets([DB_URL]);
    const c = appendAudit('.boxship/hello', {
      time: 't',
      who: 'me',
      command: 'boxship rollout',
      host: 'h',
      outcome: 'rolled-back',
      detail: `app said: cannot connect to ${DB_URL}`,
    });
    expect(toShell(c)).not.toContain(PASSWORD);
    expect(toShell(c)).toContain('app said: cannot connect to ***');
  });
});
