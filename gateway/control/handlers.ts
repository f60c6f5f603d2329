// One function per control command, run inside the daemon. Bus commands go through the daemon's
// own bus master (it owns the port; a second opener would garble both). Writes to the ledger go
// through its domain API, and a raw register write is recorded as an alert before it is sent:
// it can credit a machine, so the cloud must see who could have done so and when.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { BusResult } from '../bus/types.js';
import { scanBus } from '../bus/bus-scan.js';
import { EXCEPTION_NAMES } from '../../protocols/modbus/pdu.js';
import type { BusReadResult, BusWriteResult, ControlErrorCode, ControlRequest, MachineView, ResultOf, StatusResult } from './protocol.js';
import { auditResult, cardResult, ledgerSummary, outboxResult, txResult } from './queries.js';
import type { ControlBus, ControlTarget } from './target.js';

export class ControlError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export interface HandlerContext {
  target: ControlTarget;
  logger: Logger;
  clock: Clock;
  startedAtMs: number;
  /** True once the server is stopping or the asking client has gone: long commands end early. */
  aborted(): boolean;
  /** Single-flight guard for bus scans, which hold the bus for seconds. */
  scan: { running: boolean };
}

function pickBus(target: ControlTarget, id: string | undefined): ControlBus {
  if (id !== undefined) {
    const bus = target.buses.find((b) => b.id === id);
    if (bus === undefined) throw new ControlError('unknown_bus', `no bus "${id}" (buses: ${target.buses.map((b) => b.id).join(', ')})`);
    return bus;
  }
  const [only, ...more] = target.buses;
  if (only === undefined) throw new ControlError('unknown_bus', 'this gateway has no bus');
  if (more.length > 0) throw new ControlError('bad_request', `several buses: name one with --bus (${target.buses.map((b) => b.id).join(', ')})`);
  return only;
}

type Outcome = Pick<BusReadResult, 'outcome' | 'detail' | 'exceptionCode' | 'latencyMs'>;

function outcomeOf(r: BusResult): Outcome {
  if (r.ok) return { outcome: 'reply', detail: 'ok', exceptionCode: null, latencyMs: r.latencyMs };
  if (r.kind === 'exception') {
    return { outcome: 'exception', detail: `exception ${r.code} (${EXCEPTION_NAMES[r.code] ?? 'unknown'})`, exceptionCode: r.code, latencyMs: r.latencyMs };
  }
  return { outcome: r.kind, detail: r.detail, exceptionCode: null, latencyMs: null };
}

function status(h: HandlerContext): StatusResult {
  const t = h.target;
  const blocked = t.blockedMachines();
  const byStatus: Record<string, number> = {};
  let total = 0;
  const buses = t.buses.map((b) => {
    const stats = b.stats();
    const states = new Map(b.states().map((s) => [s.machineId, s]));
    for (const u of b.units) {
      for (const id of u.machineIds) {
        total++;
        const st = states.get(id)?.status ?? 'unknown';
        byStatus[st] = (byStatus[st] ?? 0) + 1;
      }
    }
    return {
      id: b.id,
      portUp: stats.portUp,
      queueLength: stats.queueLength,
      unitsConfigured: b.units.length,
      unitsDiscovered: b.discoveredUnits().length,
      breakersOpen: stats.units.filter((u) => u.breaker === 'open').map((u) => u.unit),
    };
  });
  const now = h.clock.now();
  return {
    daemon: {
      pid: process.pid,
      bootId: t.bootId,
      startedAtMs: h.startedAtMs,
      uptimeSec: Math.max(0, Math.round((now - h.startedAtMs) / 1000)),
      node: process.version,
      clockTrusted: t.clockTrusted(),
    },
    room: t.room,
    buses,
    machines: { total, byStatus, blocked },
    outbox: t.ledger.outbox.stats(),
    ledger: ledgerSummary(t.ledger),
  };
}

function machines(t: ControlTarget): MachineView[] {
  const blocked = new Set(t.blockedMachines());
  return t.buses.flatMap((b) => {
    const states = new Map(b.states().map((s) => [s.machineId, s]));
    return b.units.flatMap((u) =>
      u.machineIds.map((id): MachineView => {
        const s = states.get(id);
        return {
          machineId: id,
          bus: b.id,
          unit: u.unit,
          kind: s?.kind ?? null,
          status: s?.status ?? 'unknown',
          program: s?.program ?? null,
          remainingSec: s?.remainingSec ?? null,
          door: s?.door ?? null,
          faultCode: s?.faultCode ?? null,
          creditCents: s?.creditCents ?? null,
          observedAt: s?.observedAt ?? null,
          blocked: blocked.has(id),
        };
      }),
    );
  });
}

async function busScan(h: HandlerContext, r: Extract<ControlRequest, { cmd: 'bus.scan' }>): Promise<ResultOf<'bus.scan'>> {
  const bus = pickBus(h.target, r.bus);
  if (h.scan.running) throw new ControlError('busy', 'a bus scan is already running');
  h.scan.running = true;
  try {
    h.logger.info({ bus: bus.id, from: r.from, to: r.to }, 'bus scan requested over the control socket');
    const hits = await scanBus(bus.client, {
      from: r.from,
      to: r.to,
      timeoutMs: r.timeoutMs,
      onProgress: () => {
        // scanBus has no cancel: throwing from its progress hook ends it after the current unit
        if (h.aborted()) throw new ControlError('shutting_down', 'bus scan cancelled');
      },
    });
    return { bus: bus.id, from: r.from, to: r.to, hits };
  } finally {
    h.scan.running = false;
  }
}

async function busRead(h: HandlerContext, r: Extract<ControlRequest, { cmd: 'bus.read' }>): Promise<BusReadResult> {
  const bus = pickBus(h.target, r.bus);
  const res = await bus.client.request(r.unit, { fc: r.fc, address: r.address, quantity: r.count }, { priority: 'command' });
  let values: number[] | null = null;
  if (res.ok) {
    if (res.reply.kind === 'registers') values = res.reply.registers;
    else if (res.reply.kind === 'bits') values = res.reply.bits.slice(0, r.count).map((b) => (b ? 1 : 0));
  }
  return { bus: bus.id, unit: r.unit, fc: r.fc, address: r.address, count: r.count, values, ...outcomeOf(res) };
}

async function busWrite(h: HandlerContext, r: Extract<ControlRequest, { cmd: 'bus.write' }>): Promise<BusWriteResult> {
  const bus = pickBus(h.target, r.bus);
  h.target.ledger.appendAlert({ code: 'operator_bus_write', message: 'holding register written from the control socket', detail: { bus: bus.id, unit: r.unit, address: r.address, value: r.value } });
  h.logger.warn({ bus: bus.id, unit: r.unit, address: r.address, value: r.value }, 'register write from the control socket');
  const res = await bus.client.request(r.unit, { fc: 6, address: r.address, value: r.value }, { priority: 'command' });
  return { bus: bus.id, unit: r.unit, address: r.address, value: r.value, ...outcomeOf(res) };
}

export async function handle(h: HandlerContext, r: ControlRequest): Promise<unknown> {
  const t = h.target;
  switch (r.cmd) {
    case 'status':
      return status(h);
    case 'machines':
      return { machines: machines(t) };
    case 'bus.scan':
      return busScan(h, r);
    case 'bus.read':
      return busRead(h, r);
    case 'bus.write':
      return busWrite(h, r);
    case 'tx':
      return txResult(t.ledger, r.limit);
    case 'outbox':
      return outboxResult(t.ledger, r.deadLetters);
    case 'audit.verify':
      return auditResult(t.ledger, { audit: r.auditHead, money: r.moneyHead });
    case 'card.show':
      return cardResult(t.ledger, r.uid);
    case 'card.block':
    case 'card.unblock': {
      const st = r.cmd === 'card.block' ? 'blocked' : 'active';
      t.ledger.setCardStatus(r.uid, st);
      h.logger.warn({ card: cardResult(t.ledger, r.uid).mask, status: st }, 'card status set from the control socket');
      return cardResult(t.ledger, r.uid);
    }
  }
}
