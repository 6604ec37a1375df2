/** What the config tests share: the ConfigError a boxship.yml is refused with, failing the test when it loads. */
import { expect } from 'vitest';
import { ConfigError } from '../../src/config/problems.js';

export function refusal(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected the config to be rejected');
}
