// A part of the daemon that starts and stops (Zigbee2MQTT's extensions). The composition root
// keeps its features in one list: started in order, stopped in reverse, so each feature finds
// what it needs running and the parts that feed it are stopped before it.
import type { Logger } from './log.js';

export interface Feature {
  /** For logs: "buses", "engine", "uplink"… */
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/** A feature from two functions: most of the root's features are one call each way. */
export function feature(name: string, start: () => Promise<void> | void, stop: () => Promise<void> | void = () => undefined): Feature {
  return { name, start, stop };
}

export class Features {
  private started: Feature[] = [];

  constructor(
    private readonly list: readonly Feature[],
    private readonly log: Logger,
  ) {}

  get names(): string[] {
    return this.list.map((f) => f.name);
  }

  /**
   * Starts each feature in order. When one fails, those already started are stopped in reverse
   * and the error is thrown: a half-started daemon is no daemon.
   */
  async start(): Promise<void> {
    for (const f of this.list) {
      if (this.started.includes(f)) continue;
      try {
        await f.start();
      } catch (e) {
        this.log.error({ feature: f.name, err: e instanceof Error ? e.message : String(e) }, 'feature failed to start: stopping the others');
        await this.stop().catch(() => undefined);
        throw e;
      }
      this.started.push(f);
    }
  }

  /**
   * Stops the started features in reverse order. Every one is asked even when an earlier stop
   * fails (the ledger must still be closed); the first error is thrown at the end.
   */
  async stop(): Promise<void> {
    let first: unknown = null;
    while (this.started.length > 0) {
      const f = this.started.pop();
      if (f === undefined) break;
      try {
        await f.stop();
      } catch (e) {
        this.log.error({ feature: f.name, err: e instanceof Error ? e.message : String(e) }, 'feature failed to stop');
        first ??= e;
      }
    }
    if (first !== null) throw first;
  }
}
