/**
 * Stop signals in boxship.yml (`app.stop_signal`, `accessories.<name>.stop_signal`): the signal `docker stop` sends
 * first. Only signals a process can catch and that some server treats as "shut down" (nginx, php-fpm and unicorn
 * stop gracefully on SIGQUIT, some Node and Go setups only on SIGINT, Apache on SIGWINCH): SIGKILL and SIGSTOP
 * cannot be caught, so they would make every stop a kill.
 */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Every spelling boxship.yml may use: SIGINT or INT. */
export const STOP_SIGNAL_NAMES: readonly string[] = STOP_SIGNALS.flatMap((s) => [s, s.slice(3)]);

/** SIGINT for INT or SIGINT; the config holds this form, docker and the hosts' `timeout` take it. */
export function stopSignalName(written: string): StopSignal {
  return (written.startsWith('SIG') ? written : `SIG${written}`) as StopSignal;
}
