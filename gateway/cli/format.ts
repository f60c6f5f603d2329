// Human-readable output of the CLI: aligned tables, money as currency units, times in UTC.
import type { AuditResult, BusReadResult, BusScanResult, BusWriteResult, CardResult, MachinesResult, OutboxResult, StatusResult, TxResult } from '../control/protocol.js';

export function cents(n: number | null): string {
  if (n === null) return '-';
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

export function utc(ms: number | null): string {
  return ms === null ? '-' : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function duration(sec: number): string {
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : `${m}m ${sec % 60}s`;
}

function ms(n: number | null): string {
  return n === null ? '?' : n.toFixed(1);
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function formatStatus(s: StatusResult): string {
  const out: string[] = [];
  const d = s.daemon;
  out.push(`room        ${s.room.id}${s.room.name ? ` (${s.room.name})` : ''}`);
  out.push(d ? `daemon      running, pid ${d.pid}, up ${duration(d.uptimeSec)}, node ${d.node}` : 'daemon      NOT RUNNING (figures below are read from the ledger file)');
  if (d) out.push(`clock       ${d.clockTrusted ? 'trusted' : 'NOT trusted (behind the time floor or not synchronized)'}`);
  for (const b of s.buses) {
    const breakers = b.breakersOpen.length > 0 ? `, breaker open: unit ${b.breakersOpen.join(', ')}` : '';
    out.push(`bus ${b.id.padEnd(8)}${b.portUp ? 'port up' : 'PORT DOWN'}, ${b.unitsDiscovered}/${b.unitsConfigured} units discovered, queue ${b.queueLength}${breakers}`);
  }
  if (s.machines) {
    const by = Object.entries(s.machines.byStatus)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    out.push(`machines    ${s.machines.total}: ${by}${s.machines.blocked.length > 0 ? `; blocked until settled: ${s.machines.blocked.join(', ')}` : ''}`);
  }
  const o = s.outbox;
  out.push(`outbox      ${o.depth} waiting${o.oldestAgeMs !== null ? ` (oldest ${Math.round(o.oldestAgeMs / 1000)} s)` : ''}, last seq ${o.lastSeq}, acked ${o.ackedSeq}, dead letters ${o.deadLetters}`);
  const l = s.ledger;
  out.push(`ledger      ${l.path}: ${bytes(l.fileBytes)} (+${bytes(l.walBytes)} WAL), ${l.vends} vends, ${l.unfinishedVends} unfinished, ${l.cards} cards`);
  out.push(`audit       ${l.auditRecords} records, head #${l.auditHead.seq} ${l.auditHead.hash.slice(0, 16)}…`);
  return out.join('\n');
}

export function formatMachines(r: MachinesResult): string {
  return table(
    ['MACHINE', 'BUS', 'UNIT', 'KIND', 'STATUS', 'PROGRAM', 'LEFT', 'DOOR', 'FAULT', 'CREDIT', 'SEEN'],
    r.machines.map((m) => [
      m.machineId + (m.blocked ? ' (blocked)' : ''),
      m.bus,
      String(m.unit),
      m.kind ?? '-',
      m.status,
      m.program === null ? '-' : String(m.program),
      m.remainingSec === null ? '-' : `${Math.ceil(m.remainingSec / 60)} min`,
      m.door === null ? '-' : `${m.door.closed ? 'closed' : 'open'}${m.door.locked ? ', locked' : ''}`,
      m.faultCode === null || m.faultCode === 0 ? '-' : String(m.faultCode),
      cents(m.creditCents),
      utc(m.observedAt),
    ]),
  );
}

export function formatScan(r: BusScanResult): string {
  if (r.hits.length === 0) return `bus ${r.bus}: nothing answered on units ${r.from}..${r.to}`;
  const rows = r.hits.map((h) => [String(h.unit), h.answer, h.registers ? h.registers.map((v) => `0x${v.toString(16).padStart(4, '0')}`).join(' ') : '-', `${ms(h.latencyMs)} ms`]);
  return `bus ${r.bus}, units ${r.from}..${r.to}: ${r.hits.length} answered\n${table(['UNIT', 'ANSWER', 'REGISTERS', 'LATENCY'], rows)}`;
}

export function formatRead(r: BusReadResult): string {
  const head = `bus ${r.bus} unit ${r.unit} fc ${r.fc} @${r.address} x${r.count}: ${r.outcome === 'reply' ? `ok in ${ms(r.latencyMs)} ms` : r.detail}`;
  if (r.values === null) return head;
  const rows = r.values.map((v, i) => [String(r.address + i), String(v), `0x${v.toString(16).padStart(r.fc <= 2 ? 1 : 4, '0')}`]);
  return `${head}\n${table(['ADDRESS', 'VALUE', 'HEX'], rows)}`;
}

export function formatWrite(r: BusWriteResult): string {
  return `bus ${r.bus} unit ${r.unit} register ${r.address} := ${r.value}: ${r.outcome === 'reply' ? `written in ${ms(r.latencyMs)} ms` : r.detail}`;
}

export function formatTx(r: TxResult): string {
  if (r.vends.length === 0) return 'no transactions';
  return table(
    ['TIME', 'VEND', 'MACHINE', 'PROG', 'METHOD', 'FUNDING', 'CARD', 'ACCOUNT', 'AMOUNT', 'STATE', 'CAPTURED', 'REFUNDED', 'REASON'],
    r.vends.map((v) => [
      utc(v.createdMs),
      v.vendId.slice(0, 8),
      v.machineId,
      v.program === null ? '-' : String(v.program),
      v.method,
      v.funding,
      v.cardMask ?? '-',
      v.accountId ?? '-',
      cents(v.amountCents),
      v.state,
      cents(v.capturedCents),
      cents(v.refundedCents),
      v.finishReason ?? '-',
    ]),
  );
}

export function formatOutbox(r: OutboxResult): string {
  const s = r.stats;
  const lines = [
    `waiting      ${s.depth}${s.oldestAgeMs !== null ? ` (oldest ${Math.round(s.oldestAgeMs / 1000)} s old)` : ''}`,
    `last seq     ${s.lastSeq}`,
    `acked seq    ${s.ackedSeq}`,
    `dead letters ${s.deadLetters}`,
  ];
  if (r.deadLetters.length > 0) lines.push('', table(['SEQ', 'TYPE', 'DEAD SINCE', 'REASON'], r.deadLetters.map((d) => [String(d.seq), d.type, utc(d.deadMs), d.reason])));
  return lines.join('\n');
}

export function formatAudit(r: AuditResult): string {
  if (!r.ok) return [`LEDGER TAMPERED OR BROKEN: ${r.problems.length} problem(s)`, ...r.problems.map((p) => `  ${p}`)].join('\n');
  const m = r.money;
  const anchors = r.anchors.map((a) => `  ${a.source} ${a.chain} head #${a.seq}: ${a.result.replace('_', ' ')}`);
  return [
    `audit trail intact: ${r.count} records after #${r.anchorSeq}, head #${r.head.seq} ${r.head.hash}`,
    `money rows agree with the money chain: ${m.entries} entries, ${m.vends} vends, ${m.accounts} accounts; ${m.links} links, head #${m.head.seq} ${m.head.hash}`,
    ...(anchors.length > 0 ? ['anchors:', ...anchors] : ['anchors: none acknowledged by the cloud yet']),
  ].join('\n');
}

export function formatCard(r: CardResult): string {
  if (!r.found) return `card ${r.mask}: not on the card list`;
  const lines = [
    `card        ${r.mask}`,
    `status      ${r.status ?? '-'} (list: ${r.listStatus ?? '-'}, local: ${r.localStatus ?? 'none'}, list version ${r.listVersion ?? '-'})`,
    `account     ${r.accountId ?? '-'}`,
  ];
  if (r.balance) lines.push(`balance     ${cents(r.balance.balanceCents)} (${r.balance.pendingEntries} local entries not yet in a snapshot), points ${r.balance.points}, tier ${r.balance.tier}`);
  return lines.join('\n');
}
