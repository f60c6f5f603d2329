// The demo room: 8 washers, 4 dryers and a RIO-8 with 4 coin machines, described once for both
// the simulator and the gateway config so the two always agree.
import type { GatewayConfigInput } from '../config/schema.js';

export const DEMO_ROOM_ID = 'demo-room';

export function demoGatewayConfig(o: { tcpPort: number; dbPath: string; qrPublicKey: string; mqtt?: { url: string; configPublicKey: string }; webPort?: number }): GatewayConfigInput {
  const washers = Array.from({ length: 8 }, (_, i) => ({ unit: i + 1, profile: 'lw485' as const, machineId: `W${i + 1}`, kind: 'washer' as const }));
  const dryers = Array.from({ length: 4 }, (_, i) => ({ unit: 9 + i, profile: 'lw485' as const, machineId: `D${i + 1}`, kind: 'dryer' as const }));
  return {
    room: { id: DEMO_ROOM_ID, name: 'Demo laundry room' },
    database: { path: o.dbPath },
    buses: [
      {
        id: 'bus1',
        transport: { type: 'tcp', host: '127.0.0.1', port: o.tcpPort, framing: 'rtu' },
        pollIntervalMs: 1000,
        units: [
          ...washers,
          ...dryers,
          {
            unit: 20,
            profile: 'rio8',
            channels: [
              { channel: 0, machineId: 'C1', kind: 'washer', coinCents: 50, coinsPerProgram: { '1': 7 }, cycleMinutes: 30 },
              { channel: 1, machineId: 'C2', kind: 'washer', coinCents: 50, coinsPerProgram: { '1': 7 }, cycleMinutes: 30 },
              { channel: 2, machineId: 'C3', kind: 'dryer', coinCents: 50, coinsPerProgram: { '1': 4 }, cycleMinutes: 25 },
              { channel: 3, machineId: 'C4', kind: 'dryer', coinCents: 50, coinsPerProgram: { '1': 4 }, cycleMinutes: 25 },
            ],
          },
        ],
      },
    ],
    readers: [],
    pricing: {
      version: 'demo-1',
      timeZone: 'UTC',
      base: [
        { id: 'coin-washer', kind: 'washer', program: 1, machineIds: ['C1', 'C2'], priceCents: 350 },
        { id: 'coin-dryer', kind: 'dryer', program: 1, machineIds: ['C3', 'C4'], stepMinutes: 25, stepCents: 200, minSteps: 1, maxSteps: 1 },
        { id: 'w-quick', kind: 'washer', program: 1, priceCents: 250 },
        { id: 'w-normal', kind: 'washer', program: 2, priceCents: 350 },
        { id: 'w-hot', kind: 'washer', program: 3, priceCents: 450 },
        { id: 'w-heavy', kind: 'washer', program: 4, priceCents: 500 },
        { id: 'w-delicate', kind: 'washer', program: 5, priceCents: 350 },
        { id: 'w-rinse', kind: 'washer', program: 6, priceCents: 150 },
        ...[1, 2, 3, 4].map((p) => ({ id: `d-${p}`, kind: 'dryer' as const, program: p, stepMinutes: 10, stepCents: 100, minSteps: 3, maxSteps: 6 })),
      ],
      advice: [{ id: 'light-load', kinds: ['washer'], maxLoadGrams: 2500, message: 'light load: QUICK (program 1) is enough', suggestProgram: 1 }],
    },
    qrTokens: { keys: [{ publicKey: o.qrPublicKey, issuer: 'laundry-cloud', label: 'demo key' }] },
    // aedes, the demo's in-process broker, speaks MQTT 3.1.1 only.
    ...(o.mqtt ? { mqtt: { url: o.mqtt.url, protocolVersion: 4 as const, configPublicKey: o.mqtt.configPublicKey, batch: { maxWaitMs: 500 } } } : {}),
    web: { host: '127.0.0.1', port: o.webPort ?? 0, operatorToken: 'demo-operator-token-0001' },
    log: { level: 'info' },
  };
}

/** Demo cards: UIDs as a type L reader prints them, with their accounts and balances. */
export const DEMO_CARDS = [
  { uid: '04A2B9C1D25E80', accountId: 'acct-alice', balanceCents: 2000, tier: 'standard' },
  { uid: '04B7C2D3E4F501', accountId: 'acct-bob', balanceCents: 300, tier: 'standard' },
  { uid: '04C1D2E3F40516', accountId: 'acct-carol', balanceCents: 5000, tier: 'standard' },
] as const;
