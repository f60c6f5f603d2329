// Telemetry: the retained snapshot of each machine on every state change (kept while offline
// and all sent again on connect), and the periodic health message. Never throws back into the
// poller that reports the states.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { MachineState } from '../machines/state.js';
import type { LedgerOutbox } from '../../storage/index.js';
import { WIRE_VERSION, type Health, type MachineSnapshot } from '../../protocols/mqtt/payloads.js';
import type { RoomTopics } from '../../protocols/mqtt/topics.js';

export interface TelemetryDeps {
  gatewayId: string;
  topics: RoomTopics;
  logger: Logger;
  clock: Clock;
  outbox: Pick<LedgerOutbox, 'stats'>;
  busStats?: () => Record<string, unknown>;
  /** Every machine's current state (the pollers'), so a connect right after start has them all. */
  currentStates?: () => MachineState[];
  /** The room config version applied (null: none). */
  configVersion(): number | null;
  link(): { connected: boolean; connects: number; inFlight: Health['link']['inFlight'] };
  publish(topic: string, payload: string, qos: 0 | 1, retain: boolean): void;
}

export class Telemetry {
  private readonly latest = new Map<string, MachineState>();
  private readonly dirty = new Set<string>();
  private readonly startedMono: number;

  constructor(private readonly d: TelemetryDeps) {
    this.startedMono = d.clock.monotonic();
  }

  /** Called from the poller's event: must never throw back into the poll loop. */
  stateChanged(s: MachineState): void {
    try {
      this.latest.set(s.machineId, s);
      this.dirty.add(s.machineId);
      this.flushStates();
    } catch (e) {
      this.d.logger.warn({ machineId: s.machineId, err: errText(e) }, 'machine snapshot not published');
    }
  }

  /** After a (re)connect: every machine's latest state again, and a health message. */
  connected(): void {
    let current: MachineState[] = [];
    try {
      current = this.d.currentStates?.() ?? [];
    } catch (e) {
      this.d.logger.warn({ err: errText(e) }, 'current machine states unavailable');
    }
    for (const s of current) {
      const known = this.latest.get(s.machineId);
      if (known === undefined || known.observedAt <= s.observedAt) this.latest.set(s.machineId, s);
    }
    for (const id of this.latest.keys()) this.dirty.add(id);
    this.flushStates();
    this.publishHealth();
  }

  /** Retained, so a dashboard that subscribes later sees each machine's last state at once. */
  private flushStates(): void {
    if (!this.d.link().connected) return;
    for (const id of this.dirty) {
      const s = this.latest.get(id);
      if (s === undefined) continue;
      const snap: MachineSnapshot = {
        v: WIRE_VERSION,
        gatewayId: this.d.gatewayId,
        machineId: s.machineId,
        kind: s.kind,
        status: s.status,
        program: s.program,
        selectedProgram: s.selectedProgram,
        remainingSec: s.remainingSec,
        door: s.door,
        faultCode: s.faultCode,
        creditCents: s.creditCents,
        sensors: s.sensors,
        observedAt: Math.floor(s.observedAt),
      };
      try {
        this.d.publish(this.d.topics.state(id), JSON.stringify(snap), 1, true);
      } catch (e) {
        this.d.logger.warn({ machineId: id, err: errText(e) }, 'machine snapshot not published');
      }
    }
    this.dirty.clear();
  }

  health(): Health {
    const st = this.d.outbox.stats();
    const link = this.d.link();
    let bus: Record<string, unknown> = {};
    try {
      bus = this.d.busStats?.() ?? {};
    } catch (e) {
      this.d.logger.warn({ err: errText(e) }, 'bus stats unavailable');
    }
    return {
      v: WIRE_VERSION,
      gatewayId: this.d.gatewayId,
      at: Math.floor(this.d.clock.now()),
      uptimeSec: Math.max(0, Math.floor((this.d.clock.monotonic() - this.startedMono) / 1000)),
      outbox: { depth: st.depth, oldestAgeMs: st.oldestAgeMs, lastSeq: st.lastSeq, ackedSeq: st.ackedSeq, deadLetters: st.deadLetters },
      link: { connects: link.connects, inFlight: link.inFlight },
      bus,
      configVersion: this.d.configVersion(),
    };
  }

  publishHealth(): void {
    if (!this.d.link().connected) return;
    try {
      this.d.publish(this.d.topics.up('health'), JSON.stringify(this.health()), 0, false);
    } catch (e) {
      this.d.logger.warn({ err: errText(e) }, 'health not published');
    }
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
