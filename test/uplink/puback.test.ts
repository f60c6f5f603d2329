// Regression (found by the crash torture, test/torture/crash.ts): MQTT.js acknowledged a QoS 1
// downlink to the broker before the gateway had stored it, so a gateway killed in between lost
// the top-ups of that burst for good. The link now holds the PUBACK until the handler's promise
// settles: a message whose handling did not finish comes again on the next connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Link } from '../../gateway/uplink/link.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { testConfig, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

function link(onMessage: (topic: string, payload: Buffer) => void | Promise<void>): Link {
  return new Link({
    config: testConfig(broker.url),
    clientId: 'puback-gw',
    subscribe: 'puback/down/+',
    will: { topic: 'puback/up/status', payload: 'offline' },
    logger: silentLogger(),
    clock: systemClock,
    onConnect: () => undefined,
    onDisconnect: () => undefined,
    onMessage,
  });
}

test('a downlink still being stored is not acknowledged: the next connection gets it again', async () => {
  const cloud = await mqtt.connectAsync(broker.url, { clientId: 'puback-cloud', protocolVersion: 5 });
  const first: string[] = [];
  // Never finishes storing: the process "dies" with the message in hand.
  const a = link((_topic, payload) => {
    first.push(payload.toString());
    return payload.toString() === 'topup-1' ? new Promise<void>(() => undefined) : undefined;
  });
  a.start();
  // The subscription is made on connect; probe until it is in place.
  for (let i = 0; first.length === 0; i++) {
    if (i > 200) throw new Error('the link never subscribed');
    await cloud.publishAsync('puback/down/probe', `probe-${i}`, { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
  }
  await cloud.publishAsync('puback/down/topups', 'topup-1', { qos: 1 });
  await waitFor(() => first.includes('topup-1'), 'the first link to receive the top-up');
  await a.stop();

  const second: string[] = [];
  const b = link((_topic, payload) => {
    second.push(payload.toString());
  });
  b.start();
  try {
    await waitFor(() => second.includes('topup-1'), 'the top-up delivered again to the next connection', 10_000);
    assert.ok(second.includes('topup-1'));
  } finally {
    await b.stop();
    await cloud.endAsync();
  }
});
