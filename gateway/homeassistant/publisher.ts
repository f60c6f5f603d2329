// The connection to the building's broker and the retained values the room wants there. Nothing
// waits on it: set() records the newest payload of a topic and returns at once; a flush writes
// what changed while fewer than maxInFlight publishes are unacknowledged. What waits is one
// payload per topic, so a broker that is down or slow costs a bounded map, never the poll loop.
//
// The only subscription is Home Assistant's birth topic, and the only thing ever done with a
// message on it is to publish the configs again: nothing that arrives is taken as a command.
import { readFileSync } from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { MqttLoader } from '../core/mqtt-module.js';
import type { HomeAssistantConfig } from './config-schema.js';

/** A broker whose acks stay away this long with the window full is reported as slow, once. */
const SLOW_AFTER_MS = 5000;
/** Births closer than this are answered with one re-publish: a flood of them is not a flood of configs. */
const BIRTH_MIN_INTERVAL_MS = 5000;
/** Home Assistant's birth payload is "online"; anything longer is not one. */
const MAX_BIRTH_BYTES = 64;

export interface PublisherOptions {
  config: HomeAssistantConfig;
  clientId: string;
  will: { topic: string; payload: string };
  logger: Logger;
  clock: Clock;
  random?: () => number;
  /** Configs go out before states whenever everything is published again. */
  isPriority(topic: string): boolean;
  /** A one-shot payload (an empty config removing an entity) reached the broker. */
  onOnceDone?(topic: string): void;
}

interface Wanted {
  payload: string;
  once: boolean;
}

export interface PublisherStats {
  connected: boolean;
  connects: number;
  published: number;
  /** Messages that arrived on the birth topic (the only topic subscribed). */
  births: number;
  /** Topics waiting for the broker (bounded by the number of entities). */
  waiting: number;
  inFlight: number;
}

export class Publisher {
  private readonly wanted = new Map<string, Wanted>();
  private readonly dirtyFirst = new Set<string>();
  private readonly dirtyLater = new Set<string>();
  private client: MqttClient | null = null;
  /** MQTT.js, loaded on the first start (gateway/core/mqtt-module.ts). */
  private readonly mqtt = new MqttLoader();
  /** Bumped per connection: acks of an earlier connection do not count against this one's window. */
  private generation = 0;
  private inFlight = 0;
  private connectedNow = false;
  private stopping = true;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private slowTimer: NodeJS.Timeout | null = null;
  private slowReported = false;
  private downReported = false;
  private birthTimer: NodeJS.Timeout | null = null;
  private lastBirthRepublish = -Infinity;
  private readonly random: () => number;
  private readonly log: Logger;
  private auth: Pick<IClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'password'> | null = null;
  private readonly counts = { connects: 0, published: 0, births: 0 };

  constructor(private readonly o: PublisherOptions) {
    this.random = o.random ?? Math.random;
    this.log = o.logger;
  }

  /** The newest retained payload for a topic; written when the broker can take it. */
  set(topic: string, payload: string, opts: { once?: boolean } = {}): void {
    const prev = this.wanted.get(topic);
    if (prev !== undefined && prev.payload === payload && prev.once === (opts.once ?? false)) return;
    this.wanted.set(topic, { payload, once: opts.once ?? false });
    this.markDirty(topic);
    this.flush();
  }

  has(topic: string): boolean {
    return this.wanted.has(topic);
  }

  /** Everything again (a new connection, a broker that lost its retained messages, Home Assistant's birth). */
  republish(filter: (topic: string) => boolean = () => true): void {
    for (const topic of this.wanted.keys()) if (filter(topic)) this.markDirty(topic);
    this.flush();
  }

  start(): void {
    if (!this.stopping) return;
    this.stopping = false;
    const t = this.o.config.tls;
    try {
      this.auth = {
        ...(t ? { ca: t.caFile ? readFileSync(t.caFile) : undefined, cert: t.certFile ? readFileSync(t.certFile) : undefined, key: t.keyFile ? readFileSync(t.keyFile) : undefined, rejectUnauthorized: t.rejectUnauthorized } : {}),
        password: this.o.config.passwordFile ? readFileSync(this.o.config.passwordFile, 'utf8').trim() : undefined,
      };
    } catch (e) {
      // The room goes on without Home Assistant: a missing certificate must not stop the vending.
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'home assistant broker credentials not readable; not connecting');
      this.stopping = true;
      return;
    }
    this.mqtt.start(this.log, () => this.connect());
  }

  /** Publishes `last` (the retained "offline") if connected, then disconnects. */
  async stop(last?: { topic: string; payload: string }): Promise<void> {
    this.stopping = true;
    for (const t of [this.reconnectTimer, this.slowTimer, this.birthTimer]) if (t) clearTimeout(t);
    this.reconnectTimer = this.slowTimer = this.birthTimer = null;
    const c = this.client;
    this.client = null;
    this.connectedNow = false;
    if (c === null) return;
    if (c.connected) {
      if (last) await withTimeout(new Promise<void>((resolve) => c.publish(last.topic, last.payload, { qos: 1, retain: true }, () => resolve())), 2000);
      await withTimeout(c.endAsync(false).catch(() => undefined), 2000);
    }
    c.removeAllListeners();
    c.on('error', () => undefined);
    c.end(true);
  }

  stats(): PublisherStats {
    return { connected: this.connectedNow, ...this.counts, waiting: this.dirtyFirst.size + this.dirtyLater.size, inFlight: this.inFlight };
  }

  private markDirty(topic: string): void {
    if (this.o.isPriority(topic)) this.dirtyFirst.add(topic);
    else this.dirtyLater.add(topic);
  }

  private options(): IClientOptions {
    const cfg = this.o.config;
    return {
      clientId: this.o.clientId,
      protocolVersion: cfg.protocolVersion,
      // Nothing is kept in a session: every connection publishes the whole picture again.
      clean: true,
      keepalive: cfg.keepaliveSec,
      connectTimeout: cfg.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      username: cfg.username,
      ...this.auth,
      // A huge message on the birth topic is refused by the broker instead of read (MQTT 5).
      properties: cfg.protocolVersion === 5 ? { maximumPacketSize: 64 * 1024 } : undefined,
      will: { topic: this.o.will.topic, payload: Buffer.from(this.o.will.payload), qos: 1, retain: true },
    };
  }

  private connect(): void {
    this.reconnectTimer = null;
    const mqttConnect = this.mqtt.connect;
    if (this.stopping || mqttConnect === null) return;
    const c = mqttConnect(this.o.config.url, this.options());
    const gen = ++this.generation;
    this.client = c;
    c.on('connect', () => {
      if (this.client !== c) return;
      const stream = c.stream as unknown as { setNoDelay?: (on: boolean) => unknown };
      if (typeof stream.setNoDelay === 'function') stream.setNoDelay(true);
      this.connectedNow = true;
      this.inFlight = 0;
      this.counts.connects++;
      this.log.info({ attempt: this.attempt, reconnected: this.downReported }, 'home assistant broker connected');
      this.attempt = 0;
      this.downReported = false;
      c.subscribe(this.o.config.birthTopic, { qos: 1 }, (err) => {
        if (err) this.log.warn({ err: err.message }, 'home assistant birth topic not subscribed');
      });
      this.republish();
    });
    // Whatever arrives is acknowledged at once and read for one thing only: a birth.
    c.handleMessage = (packet, callback) => {
      if (this.client === c && packet.topic === this.o.config.birthTopic) this.birth(packet.payload);
      callback();
    };
    c.on('error', (err) => {
      if (!this.downReported) this.log.warn({ err: err.message }, 'home assistant broker error');
    });
    c.on('close', () => {
      if (this.client !== c || gen !== this.generation) return;
      this.closed(c);
    });
  }

  private closed(c: MqttClient): void {
    const wasUp = this.connectedNow;
    this.connectedNow = false;
    this.inFlight = 0;
    this.generation++;
    c.removeAllListeners();
    c.on('error', () => undefined);
    c.end(true);
    this.client = null;
    if (!this.downReported) {
      // Once per outage: a broker away for a week writes one line, not one per retry.
      this.log.warn({ wasConnected: wasUp }, 'home assistant broker not reachable; retrying with backoff');
      this.downReported = true;
    }
    if (this.stopping) return;
    const r = this.o.config.reconnect;
    const base = Math.min(r.maxMs, r.minMs * 2 ** Math.min(this.attempt, 30));
    const delay = Math.max(0, Math.round(base * (1 - r.jitter * this.random())));
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private birth(payload: Buffer | string): void {
    this.counts.births++;
    const text = typeof payload === 'string' ? payload : payload.length <= MAX_BIRTH_BYTES ? payload.toString('utf8') : '';
    if (text !== 'online' || this.birthTimer !== null) return;
    const now = this.o.clock.monotonic();
    const spread = Math.round(this.random() * this.o.config.birthDelayMaxMs);
    const delay = Math.max(spread, this.lastBirthRepublish + BIRTH_MIN_INTERVAL_MS - now);
    this.birthTimer = setTimeout(() => {
      this.birthTimer = null;
      this.lastBirthRepublish = this.o.clock.monotonic();
      this.log.info('home assistant started: configs and states published again');
      this.republish((t) => !(this.wanted.get(t)?.once ?? false));
    }, delay);
  }

  private next(): string | undefined {
    for (const set of [this.dirtyFirst, this.dirtyLater]) {
      const first = set.values().next();
      if (!first.done) {
        set.delete(first.value);
        return first.value;
      }
    }
    return undefined;
  }

  private flush(): void {
    const c = this.client;
    if (c === null || !this.connectedNow) return;
    const gen = this.generation;
    const qos = 1;
    while (this.inFlight < this.o.config.maxInFlight) {
      const topic = this.next();
      if (topic === undefined) break;
      const w = this.wanted.get(topic);
      if (w === undefined) continue;
      this.inFlight++;
      c.publish(topic, w.payload, { qos, retain: true }, (err) => {
        if (gen !== this.generation) return;
        this.inFlight--;
        if (err) this.markDirty(topic);
        else {
          this.counts.published++;
          if (w.once && this.wanted.get(topic) === w) {
            this.wanted.delete(topic);
            this.o.onOnceDone?.(topic);
          }
        }
        this.drained();
        this.flush();
      });
    }
    if (this.inFlight >= this.o.config.maxInFlight && this.slowTimer === null && !this.slowReported) {
      this.slowTimer = setTimeout(() => {
        this.slowTimer = null;
        if (this.inFlight >= this.o.config.maxInFlight && this.connectedNow) {
          this.slowReported = true;
          this.log.warn({ inFlight: this.inFlight, waiting: this.dirtyFirst.size + this.dirtyLater.size }, 'home assistant broker slow; newest values wait, one per topic');
        }
      }, SLOW_AFTER_MS);
      this.slowTimer.unref();
    }
  }

  private drained(): void {
    if (this.inFlight >= this.o.config.maxInFlight) return;
    if (this.slowTimer) clearTimeout(this.slowTimer);
    this.slowTimer = null;
    if (this.slowReported) {
      this.slowReported = false;
      this.log.info('home assistant broker keeps up again');
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((resolve) => (t = setTimeout(() => resolve(undefined), ms)))]).finally(() => clearTimeout(t));
}
