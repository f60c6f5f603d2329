// Reconnect delays for transports: exponential with a cap and a little jitter, so two gateways
// on one TCP converter (or a udev storm after a hub reset) do not retry in lockstep.
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** this.attempt);
    this.attempt += 1;
    // up to +20 %, never below the base: a retry must not come sooner than promised
    return Math.round(base * (1 + 0.2 * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
