// The readers feature for the composition root: one SerialReader per configured device, started
// and stopped together, their events on one emitter. Readers are independent: one that is
// missing or noisy never holds up the others.
import { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ReaderConfig } from './config-schema.js';
import { SerialReader, type ReaderEvents, type ReaderStats } from './serial-reader.js';

export interface ReadersDeps {
  logger: Logger;
  clock?: Clock;
}

export class Readers extends EventEmitter<ReaderEvents> {
  private readonly readers: SerialReader[];

  constructor(configs: readonly ReaderConfig[], deps: ReadersDeps) {
    super();
    this.readers = configs.map((c) => new SerialReader(c, deps));
    for (const r of this.readers) {
      // Forwarded as is: a listener that throws is not caught here (see docs/readers.md).
      r.on('swipe', (e) => this.emit('swipe', e));
      r.on('scan', (e) => this.emit('scan', e));
      r.on('sun', (e) => this.emit('sun', e));
      r.on('noise', (e) => this.emit('noise', e));
      r.on('up', (e) => this.emit('up', e));
      r.on('down', (e) => this.emit('down', e));
    }
  }

  /** Resolves when every reader has made its first open attempt; absent readers keep retrying. */
  async start(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
  }

  stats(): ReaderStats[] {
    return this.readers.map((r) => r.stats());
  }

  get all(): readonly SerialReader[] {
    return this.readers;
  }

  get(id: string): SerialReader | undefined {
    return this.readers.find((r) => r.id === id);
  }
}
