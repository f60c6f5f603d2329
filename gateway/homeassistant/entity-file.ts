// Which discovery configs this gateway has published, kept in a small JSON file beside the ledger,
// so a machine taken out of the config is taken out of Home Assistant too (an empty retained
// config) after a restart. Reading them back from the broker would mean subscribing to more than
// Home Assistant's birth topic. Written only when the set changes: the SD card is spared.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../core/log.js';

const fileSchema = z.strictObject({
  version: z.literal(1),
  configTopics: z.array(z.string().min(1).max(512)).max(100_000),
});

export class EntityFile {
  private saved: string | null = null;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  /** The topics saved last time; none when there is no file or it cannot be read (said in the log). */
  load(): Set<string> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ path: this.path, err: e instanceof Error ? e.message : String(e) }, 'home assistant entity list not readable; nothing will be removed');
      return new Set();
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    const r = fileSchema.safeParse(json);
    if (!r.success) {
      this.log.warn({ path: this.path, err: r.error.issues[0]?.message ?? 'not JSON' }, 'home assistant entity list is not valid; nothing will be removed');
      return new Set();
    }
    this.saved = canonical(r.data.configTopics);
    return new Set(r.data.configTopics);
  }

  /** Saves the set if it differs from what was saved; never throws (the room must not stop for this). */
  save(topics: Iterable<string>): void {
    const sorted = [...topics].sort();
    const text = canonical(sorted);
    if (text === this.saved) return;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, this.path);
      this.saved = text;
    } catch (e) {
      this.log.warn({ path: this.path, err: e instanceof Error ? e.message : String(e) }, 'home assistant entity list not saved');
    }
  }
}

function canonical(topics: readonly string[]): string {
  return `${JSON.stringify({ version: 1, configTopics: [...topics].sort() })}\n`;
}
