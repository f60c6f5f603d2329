// MQTT.js is loaded on its first use, not with the daemon: with its dependencies it is the
// largest module tree the daemon would otherwise load (~18 MiB of RSS measured alone), and a
// room without a broker configured (no `mqtt` block, no Home Assistant) never needs it on a
// 512 MB Pi (docs/performance.md, section 8). The uplink and the Home Assistant publisher call
// connectors through this and connect once it resolves.
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from './log.js';

export type MqttConnect = (url: string, opts: IClientOptions) => MqttClient;

let loading: Promise<MqttConnect> | null = null;

/** MQTT.js's connect(), loading the module the first time. */
export function loadMqtt(): Promise<MqttConnect> {
  loading ??= import('mqtt').then((m) => (url: string, opts: IClientOptions) => m.connect(url, opts));
  return loading;
}

/**
 * One client's side of the lazy load (the uplink's link, the Home Assistant publisher): `start`
 * loads MQTT.js and then calls `ready`, unless `start` was called again meanwhile (a stop and a
 * start while the module loaded: the newer start's load connects, not this one).
 */
export class MqttLoader {
  private starts = 0;
  /** MQTT.js's connect(), once loaded. */
  connect: MqttConnect | null = null;

  start(log: Logger, ready: () => void): void {
    const start = ++this.starts;
    loadMqtt().then(
      (connect) => {
        this.connect = connect;
        if (start === this.starts) ready();
      },
      (e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'mqtt module could not be loaded'),
    );
  }
}
