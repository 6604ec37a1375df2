/**
 * Where boxship keeps a service's state on a host: relative to the SSH user's home, so no root is needed for it.
 */
export function stateDir(service: string): string {
  return `.boxship/${service}`;
}
