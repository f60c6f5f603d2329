// Home Assistant's side of the building's broker, as far as the tests need it: a client that
// records every message (topic, payload, retained flag) and can wait for a condition, and can
// publish the birth message or anything else a hostile client would.
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';

export interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

export class Observer {
  readonly seen: Seen[] = [];
  private constructor(private readonly client: MqttClient) {}

  static async connect(url: string, filter = '#', clientId = `observer-${Math.random().toString(16).slice(2)}`): Promise<Observer> {
    const client = mqtt.connect(url, { clientId, protocolVersion: 4, reconnectPeriod: 100, clean: true });
    const o = new Observer(client);
    client.on('message', (topic, payload, packet) => o.seen.push({ topic, payload: payload.toString('utf8'), retain: packet.retain, at: Date.now() }));
    client.on('error', () => undefined);
    client.on('connect', () => client.subscribe(filter, { qos: 1 }));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      setTimeout(() => reject(new Error('observer did not connect')), 10_000).unref();
    });
    // The subscribe is asked on connect; give the broker a moment to deliver the retained messages.
    await sleep(100);
    return o;
  }

  /** The last payload seen on a topic. */
  last(topic: string): string | undefined {
    for (let i = this.seen.length - 1; i >= 0; i--) {
      const s = this.seen[i];
      if (s?.topic === topic) return s.payload;
    }
    return undefined;
  }

  /** Every payload seen on a topic, in order. */
  values(topic: string): string[] {
    return this.seen.filter((s) => s.topic === topic).map((s) => s.payload);
  }

  publish(topic: string, payload: string | Buffer, retain = false): Promise<void> {
    return new Promise((resolve, reject) => this.client.publish(topic, payload, { qos: 1, retain }, (e) => (e ? reject(e) : resolve())));
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

export async function waitFor<T>(what: string | (() => string), f: () => T | undefined | null | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(20);
  }
}
