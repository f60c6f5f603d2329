// What /metrics exposes: bus health per unit, vend outcomes from the audit trail, the outbox,
// the clock, the web feature itself and the process. Read at scrape time, nothing cached.
import { readdirSync } from 'node:fs';
import type { ActivityCounts } from './activity.js';
import type { MetricFamily } from './prometheus.js';
import type { StatusSource } from './status-source.js';

/** The web feature's own counters (actions, feedback, live clients). */
export class WebCounters {
  readonly actions = new Map<string, { action: string; result: string; n: number }>();
  readonly feedback = new Map<string, number>();
  sseClients = 0;
  /** Open TCP connections of the page, and connections refused or closed to make room, by reason. */
  connections = 0;
  connectionRefusals: Record<string, number> = {};

  action(action: string, result: string): void {
    const k = `${action}\u0000${result}`;
    const prev = this.actions.get(k);
    this.actions.set(k, { action, result, n: (prev?.n ?? 0) + 1 });
  }

  feedbackResult(result: 'accepted' | 'rate_limited' | 'invalid'): void {
    this.feedback.set(result, (this.feedback.get(result) ?? 0) + 1);
  }
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return Number.NaN;
  }
}

const STATUSES = ['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service', 'offline'] as const;
const BREAKER = ['closed', 'open', 'half-open'] as const;

export function collectMetrics(source: StatusSource, counts: ActivityCounts, web: WebCounters): MetricFamily[] {
  const buses = source.buses();
  const unitLabels = (busId: string, unit: number): Record<string, string> => ({ bus: busId, unit: String(unit) });
  const perUnit = (pick: (u: (typeof buses)[number]['units'][number]) => number) =>
    buses.flatMap((b) => b.units.map((u) => ({ labels: unitLabels(b.busId, u.unit), value: pick(u) })));

  const machines = source.machineIds().map((id) => source.machine(id));
  const byStatus = new Map<string, number>(STATUSES.map((s) => [s, 0]));
  for (const m of machines) {
    const s = m?.status ?? 'offline';
    byStatus.set(s, (byStatus.get(s) ?? 0) + 1);
  }
  const outbox = source.outbox();
  const clock = source.clock();
  const mem = process.memoryUsage();

  const ledger = source.ledgerHealth?.();
  return [
    ...(ledger
      ? [
          { name: 'laundry_ledger_writable', help: 'Whether the ledger writes (0: the room declines every vend, ledger_unavailable, until a write succeeds).', type: 'gauge', samples: [{ value: ledger.writable ? 1 : 0 }] } satisfies MetricFamily,
          { name: 'laundry_ledger_write_failures_total', help: 'Ledger writes on money paths that failed (SQLITE_FULL, SQLITE_IOERR, read-only) since start.', type: 'counter', samples: [{ value: ledger.failures }] } satisfies MetricFamily,
        ]
      : []),
    {
      name: 'laundry_bus_request_duration_seconds',
      help: 'Round trip of answered bus requests (replies and Modbus exceptions), per unit.',
      type: 'histogram',
      series: buses.flatMap((b) =>
        b.units.map((u) => ({ labels: unitLabels(b.busId, u.unit), bounds: u.histogram.boundsMs.map((ms) => ms / 1000), cumulative: u.histogram.cumulative, sum: u.histogram.sumMs / 1000 })),
      ),
    },
    { name: 'laundry_bus_requests_total', help: 'Requests put on the wire, per unit.', type: 'counter', samples: perUnit((u) => u.requests) },
    {
      name: 'laundry_bus_errors_total',
      help: 'Failed bus requests per unit, by kind: timeout, bad_frame, exception, breaker_rejected, port_down.',
      type: 'counter',
      samples: buses.flatMap((b) =>
        b.units.flatMap((u) =>
          (
            [
              ['timeout', u.timeouts],
              ['bad_frame', u.badFrames],
              ['exception', u.exceptions],
              ['breaker_rejected', u.breakerRejected],
              ['port_down', u.portDown],
            ] as const
          ).map(([kind, value]) => ({ labels: { ...unitLabels(b.busId, u.unit), kind }, value })),
        ),
      ),
    },
    {
      name: 'laundry_bus_breaker_state',
      help: 'Circuit breaker of each unit: 1 for its current state, 0 for the others.',
      type: 'gauge',
      samples: buses.flatMap((b) => b.units.flatMap((u) => BREAKER.map((state) => ({ labels: { ...unitLabels(b.busId, u.unit), state }, value: u.breaker === state ? 1 : 0 })))),
    },
    { name: 'laundry_bus_port_up', help: 'Whether the bus port (serial adapter or TCP link) is open.', type: 'gauge', samples: buses.map((b) => ({ labels: { bus: b.busId }, value: b.portUp ? 1 : 0 })) },
    { name: 'laundry_bus_queue_length', help: 'Requests waiting for the bus.', type: 'gauge', samples: buses.map((b) => ({ labels: { bus: b.busId }, value: b.queueLength })) },
    { name: 'laundry_machines', help: 'Machines by normalized status.', type: 'gauge', samples: [...byStatus].map(([status, value]) => ({ labels: { status }, value })) },
    {
      name: 'laundry_vends_captured_total',
      help: 'Vends captured since the gateway started, by method (from the audit trail).',
      type: 'counter',
      samples: [...counts.captured].map(([method, c]) => ({ labels: { method }, value: c.count })),
    },
    {
      name: 'laundry_vends_captured_cents_total',
      help: 'Cents captured since the gateway started, by method.',
      type: 'counter',
      samples: [...counts.captured].map(([method, c]) => ({ labels: { method }, value: c.cents })),
    },
    {
      name: 'laundry_vend_refunds_total',
      help: 'Held vends refunded since the gateway started, by reason.',
      type: 'counter',
      samples: [...counts.refunds].map(([reason, c]) => ({ labels: { reason }, value: c.count })),
    },
    {
      name: 'laundry_vend_refunded_cents_total',
      help: 'Cents refunded since the gateway started, by reason.',
      type: 'counter',
      samples: [...counts.refunds].map(([reason, c]) => ({ labels: { reason }, value: c.cents })),
    },
    {
      name: 'laundry_vend_declines_total',
      help: 'Card and QR attempts declined since the gateway started, by reason.',
      type: 'counter',
      samples: [...counts.declines].map(([reason, value]) => ({ labels: { reason }, value })),
    },
    { name: 'laundry_alerts_total', help: 'Alerts raised since the gateway started, by code.', type: 'counter', samples: [...counts.alerts].map(([code, value]) => ({ labels: { code }, value })) },
    { name: 'laundry_outbox_depth', help: 'Records waiting for the cloud to acknowledge them.', type: 'gauge', samples: [{ value: outbox.depth }] },
    {
      name: 'laundry_outbox_oldest_age_seconds',
      help: 'Age of the oldest unacknowledged record; 0 when the outbox is empty.',
      type: 'gauge',
      samples: [{ value: (outbox.oldestAgeMs ?? 0) / 1000 }],
    },
    { name: 'laundry_outbox_dead_letters', help: 'Records the cloud rejected, kept for an operator.', type: 'gauge', samples: [{ value: outbox.deadLetters }] },
    { name: 'laundry_clock_trusted', help: '1 when the system clock is not behind the persisted time floor.', type: 'gauge', samples: [{ value: clock.trusted ? 1 : 0 }] },
    { name: 'laundry_clock_floor_seconds', help: 'The time floor, seconds since the epoch.', type: 'gauge', samples: [{ value: clock.floorSec }] },
    {
      name: 'laundry_web_actions_total',
      help: 'Operator actions asked for on the web API, by action and result.',
      type: 'counter',
      samples: [...web.actions.values()].map((a) => ({ labels: { action: a.action, result: a.result }, value: a.n })),
    },
    {
      name: 'laundry_web_feedback_total',
      help: 'Problem reports posted, by result: accepted, rate_limited, invalid.',
      type: 'counter',
      samples: [...web.feedback].map(([result, value]) => ({ labels: { result }, value })),
    },
    { name: 'laundry_web_event_clients', help: 'Open Server-Sent Events connections.', type: 'gauge', samples: [{ value: web.sseClients }] },
    { name: 'laundry_web_connections', help: 'Open TCP connections of the status page.', type: 'gauge', samples: [{ value: web.connections }] },
    {
      name: 'laundry_web_connections_refused_total',
      help: 'Connections and streams turned away by the caps, by reason: per_client, total, evicted (an idle one closed to make room), event_streams, event_streams_per_client, host.',
      type: 'counter',
      samples: Object.entries(web.connectionRefusals).map(([reason, n]) => ({ labels: { reason }, value: n })),
    },
    { name: 'process_open_fds', help: 'Open file descriptors of the gateway process (LimitNOFILE in the unit).', type: 'gauge', samples: [{ value: openFds() }] },
    { name: 'process_resident_memory_bytes', help: 'Resident set size of the gateway process.', type: 'gauge', samples: [{ value: mem.rss }] },
    { name: 'nodejs_heap_used_bytes', help: 'V8 heap in use.', type: 'gauge', samples: [{ value: mem.heapUsed }] },
    { name: 'nodejs_heap_total_bytes', help: 'V8 heap allocated.', type: 'gauge', samples: [{ value: mem.heapTotal }] },
    { name: 'nodejs_external_memory_bytes', help: 'Memory of C++ objects bound to JavaScript (SQLite, buffers).', type: 'gauge', samples: [{ value: mem.external }] },
  ];
}
