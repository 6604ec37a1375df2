import { describe, expect, it } from 'vitest';
import { lastCertificateError } from '../../src/edge/certs.js';

describe('certificate errors in words', () => {
  const line = (error: string) =>
    JSON.stringify({ level: 'error', logger: 'tls.obtain', msg: 'could not get certificate from issuer', identifier: 'app.test', error });
  it('says why in words the user can act on, with the CA own text', () => {
    expect(lastCertificateError(line('DNS problem: NXDOMAIN looking up A for app.test'), 'app.test')).toMatch(/^the name does not resolve to this server/);
    expect(lastCertificateError(line('Connection refused'), 'app.test')).toMatch(/^the CA could not reach port 80/);
    expect(lastCertificateError(line('urn:ietf:params:acme:error:rateLimited: too many certificates'), 'app.test')).toMatch(/^rate limited/);
    expect(lastCertificateError(line('x'), 'other.test')).toBeUndefined();
    expect(lastCertificateError(`${line('Connection refused')}\n${line('DNS problem: NXDOMAIN')}`, 'app.test')).toMatch(/does not resolve.*NXDOMAIN/);
  });
});
