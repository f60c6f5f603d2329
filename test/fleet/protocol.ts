// Messages between the fleet rig and its gateway hosts (child processes over IPC).
import type { MqttConfigInput } from '../../gateway/uplink/config-schema.js';

export interface HostInit {
  cmd: 'init';
  dir: string;
  /** Room id and the broker URL its gateway connects to. */
  gateways: { roomId: string; url: string }[];
  mqtt: Partial<MqttConfigInput>;
  seed: number;
}

export type HostCommand =
  | HostInit
  | { cmd: 'start' }
  /** Actions per gateway per second (0: idle); `phase` tags the ack latencies measured from now on. */
  | { cmd: 'rate'; perGatewaySec: number; phase: string }
  /** Writes this many actions per gateway at once (a backlog), as fast as the ledgers take them. */
  | { cmd: 'burst'; actions: number; phase: string; onlyUrl?: string }
  /** Stops the uplinks (of the gateways on onlyUrl) while a backlog is written; resume starts them again. */
  | { cmd: 'pause'; onlyUrl?: string }
  | { cmd: 'resume' }
  /** Stops every uplink and starts it again at once (the reconnect storm). */
  | { cmd: 'reconnect' }
  | { cmd: 'stats' }
  | { cmd: 'stop' };

export interface GatewayStat {
  roomId: string;
  lastSeq: number;
  ackedSeq: number;
  depth: number;
  connected: boolean;
  /** Batches sent and not yet acked, and the last seq of the oldest of them (null: none). */
  inFlightBatches: number;
  inFlightToSeq: number | null;
  capturedCents: number;
  topUpCents: number;
}

export interface HostStats {
  gateways: GatewayStat[];
  /** Ack latencies (ms from commit to the ledger's ack) by phase. */
  latency: Record<string, number[]>;
  rssBytes: number;
  maxRssBytes: number;
  actions: number;
}

export type HostReply = { ok: true; cmd: HostCommand['cmd']; stats?: HostStats } | { ok: false; cmd: string; error: string };
