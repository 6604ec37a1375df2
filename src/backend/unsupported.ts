/** What a backend cannot do, said in one place: the command, the backend, and what to run instead. */
import { InputError } from '../util/errors.js';

export class NotOnBackendError extends InputError {
  constructor(what: string, backend: string, instead: string) {
    super(`${what} is not available with backend: ${backend} yet`, { hint: instead });
  }
}
