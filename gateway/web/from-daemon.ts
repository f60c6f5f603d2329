// The StatusSource over the daemon's parts, given as a narrow interface (StatusParts) that the
// Daemon meets by shape: the web part imports nothing of the daemon, and a test can hand it parts.
import { systemClock, type Clock } from '../core/clock.js';
import type { MachineAccess } from '../engine/machine-access.js';
import type { MachineCommandRunner } from '../engine/machine-commands.js';
import type { LedgerHealthStatus } from '../engine/ledger-health.js';
import type { RoomBus } from '../machines/room-bus.js';
import type { AlertsLedger, AuditLedger, CardsLedger, OutboxLedger, VendsLedger } from '../../storage/index.js';
import type { TickEvent } from '../machines/poller-types.js';
import { configuredMachines } from '../profiles/config-schema.js';
import type { CommandOutcome } from '../profiles/types.js';
import type { ActionOutcome, MachineInfo, StatusSource } from './status-source.js';

/** A device command's outcome as an HTTP action answer: a refusal by the device is a 409. */
async function commandOutcome(p: Promise<CommandOutcome>): Promise<ActionOutcome> {
  const o = await p;
  switch (o.status) {
    case 'accepted':
      return { ok: true, detail: { outcome: 'accepted' } };
    case 'rejected':
      return { ok: false, status: 409, error: o.reason, reason: o.detail };
    case 'unknown':
      return { ok: false, status: 502, error: 'unknown', reason: o.detail };
    case 'unsupported':
      return { ok: false, status: 422, error: 'unsupported', reason: 'this machine cannot do that' };
  }
}

/** What the page needs of the uplink part (gateway/uplink Uplink.stats() has it), kept structural. */
export interface UplinkProbe {
  stats(): { connected: boolean };
}

/** What the page reads and does, of the daemon's parts. */
export interface StatusParts {
  readonly config: { readonly room: { readonly id: string; readonly name?: string | undefined } };
  readonly ledger: OutboxLedger & VendsLedger & AuditLedger & AlertsLedger & CardsLedger;
  readonly buses: ReadonlyArray<Pick<RoomBus, 'config' | 'master' | 'poller'>>;
  readonly machines: MachineAccess;
  readonly engine: { blockedMachines(): string[]; readonly commands: Pick<MachineCommandRunner, 'operatorRefund' | 'operator'>; readonly health: { snapshot(): LedgerHealthStatus } };
  readonly clockFloor: { status(): ReturnType<StatusSource['clock']> };
}

export function statusSourceFromDaemon(daemon: StatusParts, extras: { uplink?: UplinkProbe | null; clock?: Clock } = {}): StatusSource {
  const { ledger, buses, machines, engine, clockFloor } = daemon;
  const clock = extras.clock ?? systemClock;
  // The ledger keeps the acked seq, not when it moved: note the time we first see it move.
  let acked: { seq: number; at: number | null } | null = null;
  const lastAckAt = (ackedSeq: number): number | null => {
    if (acked === null) acked = { seq: ackedSeq, at: null };
    else if (ackedSeq > acked.seq) acked = { seq: ackedSeq, at: clock.now() };
    return acked.at;
  };
  const infoOf = (machineId: string): MachineInfo => {
    for (const bus of buses) {
      for (const u of bus.config.units) {
        const configured = configuredMachines(u).find((m) => m.machineId === machineId);
        if (configured === undefined) continue;
        const kind = configured.kind;
        const discovered = bus.poller
          .discoveredUnits()
          .find((d) => d.unit === u.unit)
          ?.machines.find((m) => m.machineId === machineId);
        return { name: discovered?.name ?? null, kind: discovered?.kind ?? kind, busId: bus.config.id, unit: u.unit };
      }
    }
    return { name: null, kind: null, busId: null, unit: null };
  };
  return {
    room: () => ({ id: daemon.config.room.id, name: daemon.config.room.name ?? null }),
    machineIds: () => machines.machineIds(),
    machine: (id) => machines.state(id),
    machineInfo: infoOf,
    programs: (id) => machines.programs(id),
    blockedMachines: () => engine.blockedMachines(),
    ledgerHealth: () => engine.health.snapshot(),
    buses: () => buses.map((b) => b.master.stats()),
    clock: () => clockFloor.status(),
    outbox: () => ledger.outbox.stats(),
    // Without an uplink part wired in, say so rather than guess.
    uplink: () => {
      const at = lastAckAt(ledger.outbox.stats().ackedSeq);
      const up = extras.uplink;
      return { state: up ? (up.stats().connected ? 'online' : 'offline') : 'unknown', lastAckAt: at };
    },
    recentVends: (n) => ledger.recentVends(n),
    getVend: (id) => ledger.getVend(id),
    auditHeadSeq: () => ledger.auditHead().seq,
    readAudit: (from, limit) => ledger.readAudit(from, limit),
    appendAlert: (a) => {
      ledger.appendAlert(a);
    },
    enqueueEvent: (type, payload) => {
      ledger.enqueueEvent(type, payload);
    },
    blockCard: (uid) => ledger.setCardStatus(uid, 'blocked'),
    refundCaptured: (vendId, reason) => {
      const v = ledger.getVend(vendId);
      if (!v) return { ok: false, status: 404, error: 'not_found', reason: `no vend ${vendId}` };
      if (v.state !== 'captured') return { ok: false, status: 409, error: 'not_captured', reason: 'only a captured vend is refunded here; the engine settles vends in progress' };
      if ((v.capturedCents ?? 0) === 0) return { ok: false, status: 409, error: 'nothing_to_refund', reason: 'the vend cost nothing' };
      const r = engine.commands.operatorRefund(vendId, v.capturedCents ?? 0, reason);
      if (!r.ok) return { ok: false, status: 409, error: r.reason, reason: `the ledger refused: ${r.reason}` };
      return { ok: true, detail: { vendId, refundedCents: r.refundedCents } };
    },
    setServiceMode: (machineId, on) => commandOutcome(engine.commands.operator(machineId, on ? 'service-on' : 'service-off')),
    clearFault: (machineId) => commandOutcome(engine.commands.operator(machineId, 'clear-fault')),
    onMachineState: (listener) => machines.onState((e) => listener(e.state)),
    onTick: (listener) => {
      const on = (t: TickEvent): void => listener(t);
      for (const b of buses) b.poller.on('tick', on);
      return () => {
        for (const b of buses) b.poller.off('tick', on);
      };
    },
  };
}
