// One MQTT connection to the broker, kept up with our own reconnect scheduling: MQTT.js only
// knows a fixed reconnectPeriod, and a room of gateways retrying in step after a broker restart
// is a thundering herd. Each attempt is a fresh client with the same clientId and clean=false,
// so the broker's session (and the downlinks queued in it) survives; nothing of ours lives in
// MQTT.js's in-memory store (the ledger's outbox is the truth).
import { readFileSync } from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { MqttLoader } from '../core/mqtt-module.js';
import type { MqttConfig } from './config-schema.js';

export interface LinkOptions {
  config: MqttConfig;
  clientId: string;
  /** Subscribed on every connect (a lost session must not mean lost downlinks). */
  subscribe: string;
  will: { topic: string; payload: string };
  logger: Logger;
  clock: Clock;
  random?: () => number;
  onConnect(info: { sessionPresent: boolean }): void;
  onDisconnect(): void;
  /**
   * A downlink. The broker's PUBACK waits until the returned promise settles: a QoS 1 message
   * is acknowledged only once its effect is stored, so a crash before that gets it redelivered.
   */
  onMessage(topic: string, payload: Buffer): void | Promise<void>;
}

/** Delay before reconnect attempt n (0-based): exponential, capped, with jitter taken off the top. */
export function reconnectDelayMs(attempt: number, r: MqttConfig['reconnect'], random: () => number): number {
  const base = Math.min(r.maxMs, r.minMs * Math.pow(r.factor, Math.min(attempt, 60)));
  return Math.max(0, Math.round(base * (1 - r.jitter * random())));
}

export class Link {
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private connectedAt: number | null = null;
  private stopping = false;
  /** MQTT.js, loaded on the first start (gateway/core/mqtt-module.ts). */
  private readonly mqtt = new MqttLoader();
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly tls: Pick<IClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
  private readonly password: string | undefined;
  connects = 0;

  constructor(private readonly o: LinkOptions) {
    this.log = o.logger.child({ component: 'uplink-link' });
    this.random = o.random ?? Math.random;
    // Read once at construction: a missing file is a config error the operator sees at start.
    const t = o.config.tls;
    this.tls = t
      ? {
          ca: t.caFile ? readFileSync(t.caFile) : undefined,
          cert: t.certFile ? readFileSync(t.certFile) : undefined,
          key: t.keyFile ? readFileSync(t.keyFile) : undefined,
          rejectUnauthorized: t.rejectUnauthorized,
        }
      : {};
    this.password = o.config.passwordFile ? readFileSync(o.config.passwordFile, 'utf8').trim() : undefined;
  }

  get connected(): boolean {
    return this.connectedAt !== null && this.client?.connected === true;
  }

  start(): void {
    this.stopping = false;
    this.mqtt.start(this.log, () => this.connect());
  }

  /** Publishes when connected; rejects at once otherwise (callers keep their own truth and retry). */
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const c = this.client;
    if (c === null || !this.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      c.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Publishes `last` (the online→offline status) if connected, then disconnects cleanly. */
  async stop(last?: { topic: string; payload: string }): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const c = this.client;
    this.client = null;
    if (c === null) return;
    if (last && c.connected) {
      await withTimeout(
        new Promise<void>((resolve) => c.publish(last.topic, last.payload, { qos: 1, retain: true }, () => resolve())),
        2000,
      );
    }
    await withTimeout(c.endAsync(false).catch(() => undefined), 2000);
    c.removeAllListeners();
    // MQTT.js may still emit (a connack timeout of an attempt cut short): never unhandled.
    c.on('error', () => undefined);
    c.end(true);
    this.connectedAt = null;
  }

  private options(): IClientOptions {
    const cfg = this.o.config;
    const v5 = cfg.protocolVersion === 5;
    return {
      clientId: this.o.clientId,
      protocolVersion: cfg.protocolVersion,
      clean: false,
      keepalive: cfg.keepaliveSec,
      connectTimeout: cfg.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      username: cfg.username,
      password: this.password,
      ...this.tls,
      properties: v5 ? { sessionExpiryInterval: cfg.sessionExpirySec, maximumPacketSize: Math.max(1024 * 1024, cfg.maxDownlinkBytes * 4) } : undefined,
      will: { topic: this.o.will.topic, payload: Buffer.from(this.o.will.payload), qos: 1, retain: true },
    };
  }

  private connect(): void {
    const mqttConnect = this.mqtt.connect;
    if (this.stopping || mqttConnect === null) return;
    this.timer = null;
    const c = mqttConnect(this.o.config.url, this.options());
    this.client = c;
    c.on('connect', (connack) => {
      if (this.client !== c) return;
      noDelay(c);
      this.connectedAt = this.o.clock.monotonic();
      this.connects++;
      this.log.info({ sessionPresent: connack.sessionPresent, attempt: this.attempt }, 'mqtt connected');
      c.subscribe(this.o.subscribe, { qos: 1 }, (err) => {
        if (err) this.log.warn({ err: err.message }, 'mqtt subscribe failed');
      });
      this.o.onConnect({ sessionPresent: connack.sessionPresent });
    });
    // MQTT.js sends the PUBACK as soon as this callback is called; its default calls it at once,
    // before anything was stored. One message at a time, in order, as the broker sent them.
    c.handleMessage = (packet, callback) => {
      if (this.client !== c) return callback();
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      let handled: void | Promise<void> = undefined;
      try {
        handled = this.o.onMessage(packet.topic, payload);
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'downlink handler threw');
      }
      // A message whose effect could not be stored (the ledger cannot write) is not acknowledged,
      // and the connection is dropped: a broker delivers an unacknowledged message again only on
      // a new connection (the reconnect backoff paces the tries while the ledger stays down).
      void Promise.resolve(handled).then(
        () => callback(),
        (e: unknown) => {
          callback(e instanceof Error ? e : new Error(String(e)));
          if (this.client === c) {
            this.log.warn({ topic: packet.topic }, 'downlink not stored: reconnecting so the broker delivers it again');
            this.closed(c);
          }
        },
      );
    };
    c.on('error', (err) => {
      this.log.warn({ err: err.message }, 'mqtt error');
    });
    c.on('close', () => {
      if (this.client !== c) return;
      this.closed(c);
    });
  }

  private closed(c: MqttClient): void {
    const wasUp = this.connectedAt;
    this.connectedAt = null;
    c.removeAllListeners();
    c.on('error', () => undefined);
    c.end(true);
    this.client = null;
    if (wasUp !== null) {
      if (this.o.clock.monotonic() - wasUp >= this.o.config.reconnect.stableMs) this.attempt = 0;
      this.log.warn('mqtt connection lost');
      this.o.onDisconnect();
    }
    if (this.stopping || this.timer) return;
    const delay = reconnectDelayMs(this.attempt, this.o.config.reconnect, this.random);
    this.attempt++;
    this.log.debug({ delayMs: delay, attempt: this.attempt }, 'mqtt reconnect scheduled');
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

/**
 * Nagle off on the client's socket (TCP and TLS; a WebSocket stream has no such call). Without
 * it a small publish written just after a PUBACK (an ack after a batch, the short tail of a
 * batch) waits for the broker's delayed ACK: ~40 ms per batch round trip.
 */
export function noDelay(c: MqttClient): void {
  const stream = c.stream as unknown as { setNoDelay?: (on: boolean) => unknown };
  if (typeof stream.setNoDelay === 'function') stream.setNoDelay(true);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((resolve) => (t = setTimeout(() => resolve(undefined), ms)))]).finally(() => clearTimeout(t));
}
