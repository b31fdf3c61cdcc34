/**
 * Where use cases and adapters read the time: the system's in the service and the CLI
 * (src/runtime/system-clock.ts), a test's own in tests. The domain itself never reads a
 * clock: its functions are told the moment they answer for.
 */
export interface Clock {
  now(): Date;
}
