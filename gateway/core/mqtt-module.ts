// MQTT.js is loaded on its first use, not with the daemon: with its dependencies it is the
// largest module tree the daemon would otherwise load (~18 MiB of RSS measured alone), and a
// room without a broker configured (no `mqtt` block, no Home Assistant) never needs it on a
// 512 MB Pi (docs/performance.md, section 8). The uplink and the Home Assistant publisher call
// connectors through this and connect once it resolves.
import type { IClientOptions, MqttClient } from 'mqtt';

export type MqttConnect = (url: string, opts: IClientOptions) => MqttClient;

let loading: Promise<MqttConnect> | null = null;

/** MQTT.js's connect(), loading the module the first time. */
export function loadMqtt(): Promise<MqttConnect> {
  loading ??= import('mqtt').then((m) => (url: string, opts: IClientOptions) => m.connect(url, opts));
  return loading;
}
