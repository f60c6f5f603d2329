// `npm run demo -- --home-assistant`: the building's side. An in-process broker (aedes, nothing to
// install) stands for the building's Mosquitto, and a small client plays Home Assistant: it sends
// the birth message, reads the discovery configs and the state topics, and tells in the demo log
// what a resident would see: which machines are free and when theirs is done.
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { z } from 'zod';
import type { Logger } from '../core/log.js';

const configSchema = z.object({ name: z.string().nullable().optional(), state_topic: z.string(), device: z.object({ name: z.string().optional() }).optional() });

export interface DemoHomeAssistant {
  url: string;
  close(): Promise<void>;
}

export async function startDemoHomeAssistant(o: { port: number; logger: Logger }): Promise<DemoHomeAssistant> {
  const log = o.logger.child({ component: 'home-assistant' });
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(o.port, '127.0.0.1', () => resolve()));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const client = mqtt.connect(url, { clientId: 'demo-home-assistant', protocolVersion: 4, reconnectPeriod: 1000 });
  const entities = new Map<string, { name: string; device: string }>();
  const devices = new Set<string>();
  let summary: NodeJS.Timeout | null = null;
  client.on('error', () => undefined);
  client.on('connect', () => {
    client.subscribe(['homeassistant/+/+/config', 'laundry-gateway/#'], { qos: 1 });
    // What Home Assistant does when its MQTT integration starts.
    client.publish('homeassistant/status', 'online', { qos: 1 });
  });
  client.on('message', (topic, buf) => {
    const text = buf.toString('utf8');
    if (topic.startsWith('homeassistant/')) {
      if (text === '') return;
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        // not a config: ignored, as Home Assistant does
      }
      const parsed = configSchema.safeParse(json);
      if (!parsed.success) return;
      const c = parsed.data;
      const device = c.device?.name ?? '?';
      entities.set(c.state_topic, { name: c.name ?? '', device });
      devices.add(device);
      if (summary) clearTimeout(summary);
      summary = setTimeout(() => log.info({ entities: entities.size, devices: devices.size }, 'home assistant: the room discovered'), 300);
      return;
    }
    const e = entities.get(topic);
    if (e === undefined) {
      if (topic.endsWith('/availability')) log.info({ availability: text }, 'home assistant: gateway availability');
      return;
    }
    // The countdown and the door are for the dashboard; the log tells the changes a resident acts on.
    if (e.name === 'Status' || (e.name === 'Expected end' && text !== 'None') || e.name.startsWith('Free ')) {
      log.info({ entity: `${e.device} ${e.name}`.trim(), state: e.name === 'Expected end' ? new Date(text).toISOString().slice(11, 16) : text }, 'home assistant: state');
    }
  });
  return {
    url,
    close: async () => {
      if (summary) clearTimeout(summary);
      await client.endAsync(true).catch(() => undefined);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      server.close();
    },
  };
}
