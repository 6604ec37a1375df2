/**
 * The library reports progress as events; only src/cli renders them. A function that does long work takes an
 * optional `report` callback and calls it with these.
 */
export type ProgressEvent =
  | { kind: 'step'; host?: string; message: string }
  | { kind: 'bytes'; host: string; sent: number; total?: number; bytesPerSecond: number }
  | { kind: 'warning'; host?: string; message: string }
  | { kind: 'build'; message: string };

export type Report = (event: ProgressEvent) => void;

export const silent: Report = () => {};
