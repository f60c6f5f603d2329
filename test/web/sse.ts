// A minimal Server-Sent Events client over fetch for the API tests: it reads the stream and
// hands out parsed events, so a test can wait for the first one that matches.
export interface SseMessage {
  event: string;
  data: unknown;
}

export class SseReader {
  private buffer = '';
  private readonly queue: SseMessage[] = [];
  private readonly controller = new AbortController();
  private waiting: (() => void) | null = null;
  private done: Promise<void> | null = null;

  constructor(private readonly url: string) {}

  async open(): Promise<void> {
    const res = await fetch(this.url, { signal: this.controller.signal });
    if (res.status !== 200 || !res.body) throw new Error(`events: HTTP ${res.status}`);
    const ct = res.headers.get('content-type') ?? '';
    if (!ct.startsWith('text/event-stream')) throw new Error(`events: content-type ${ct}`);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    this.done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          this.buffer += dec.decode(value, { stream: true });
          let i: number;
          while ((i = this.buffer.indexOf('\n\n')) >= 0) {
            const block = this.buffer.slice(0, i);
            this.buffer = this.buffer.slice(i + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length) this.queue.push({ event, data: JSON.parse(data.join('\n')) as unknown });
            this.waiting?.();
          }
        }
      } catch {
        // aborted by close()
      }
    })();
  }

  /** The next queued event satisfying `match` (earlier non-matching events are dropped). */
  async next(match: (m: SseMessage) => boolean, timeoutMs = 20_000): Promise<SseMessage> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      while (this.queue.length) {
        const m = this.queue.shift();
        if (m && match(m)) return m;
      }
      const left = until - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an SSE event');
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiting = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}
