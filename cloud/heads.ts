// The chain heads a gateway's batches carry (auditHead, moneyHead: the heads of its ledger's audit
// and money hash chains when the batch was read), as pure bookkeeping. The cloud keeps the newest
// of each chain on the gateway's row and, thinned (pickHeads), older ones in gateway_heads: the
// anchors a rewritten room ledger is checked against (`laundry-gateway audit verify --audit-head
// … --money-head …`); it acks the newest of each chain back, and the gateway keeps that as its
// acknowledged anchor when its own chain holds it.
// The caller holds the gateway's row lock while it merges, so "newest" never goes backwards.

export interface ChainHead {
  seq: number;
  hash: string;
}

export type Chain = 'audit' | 'money';

export interface GatewayHeads {
  audit?: ChainHead;
  money?: ChainHead;
}

/** One head to keep: the rows of one gateway_heads insert. */
export interface HeadRow {
  gatewayId: string;
  chain: Chain;
  seq: number;
  hash: string;
}

interface CarriesHeads {
  gatewayId: string;
  auditHead?: ChainHead;
  moneyHead?: ChainHead;
}

/**
 * The newer of two heads of one chain: the higher seq. At an equal seq the one already kept
 * stays: a different hash there is a rewritten history, which the first copy proves.
 */
export function newerHead(kept: ChainHead | undefined, received: ChainHead | undefined): ChainHead | undefined {
  if (received === undefined) return kept;
  if (kept === undefined || received.seq > kept.seq) return received;
  return kept;
}

/** The newest heads after these batches of one gateway, from those kept before. */
export function mergeHeads(kept: GatewayHeads, batches: readonly CarriesHeads[]): GatewayHeads {
  let audit = kept.audit;
  let money = kept.money;
  for (const b of batches) {
    audit = newerHead(audit, b.auditHead);
    money = newerHead(money, b.moneyHead);
  }
  return { ...(audit ? { audit } : {}), ...(money ? { money } : {}) };
}

/** Every distinct head the batches carried (a resend repeats its heads: kept once). */
export function headRows(batches: readonly CarriesHeads[]): HeadRow[] {
  const seen = new Set<string>();
  const rows: HeadRow[] = [];
  const add = (gatewayId: string, chain: Chain, h: ChainHead | undefined): void => {
    if (h === undefined) return;
    const key = `${gatewayId}\n${chain}\n${h.seq}\n${h.hash}`;
    if (seen.has(key)) return;
    seen.add(key);
    rows.push({ gatewayId, chain, seq: h.seq, hash: h.hash });
  };
  for (const b of batches) {
    add(b.gatewayId, 'audit', b.auditHead);
    add(b.gatewayId, 'money', b.moneyHead);
  }
  return rows;
}

/** A received head with whether it goes into gateway_heads. */
export interface HeadPick extends HeadRow {
  keep: boolean;
}

/**
 * Which of one gateway's received heads (headRows of its batches in this transaction) go into
 * gateway_heads. Thinned: the newest head of each chain proves the whole history below it (a
 * rewrite anywhere below changes the hash at its seq), and it is always on the gateway's row; the
 * table's older heads only say how far back a rewrite reaches. So the table keeps the newest of
 * each chain once per `everyMs` per gateway (`due`: the last kept is older, or none is), and
 * every head when everyMs is 0. Every received head is still compared with what is kept.
 */
export function pickHeads(received: readonly HeadRow[], due: boolean, everyMs: number): HeadPick[] {
  if (everyMs === 0) return received.map((h) => ({ ...h, keep: true }));
  const newest = new Map<Chain, number>();
  for (const h of received) newest.set(h.chain, Math.max(newest.get(h.chain) ?? -1, h.seq));
  const taken = new Set<Chain>();
  return received.map((h) => {
    const keep = due && h.seq === newest.get(h.chain) && !taken.has(h.chain);
    if (keep) taken.add(h.chain);
    return { ...h, keep };
  });
}

/**
 * Received heads at the seq of the newest head kept on the gateway's row with another hash: a
 * rewritten history the table may no longer show (thinned), found against the row.
 */
export function rowConflicts(kept: GatewayHeads, received: readonly HeadRow[]): (HeadRow & { storedHash: string })[] {
  const out: (HeadRow & { storedHash: string })[] = [];
  for (const h of received) {
    const k = kept[h.chain];
    if (k !== undefined && k.seq === h.seq && k.hash !== h.hash) out.push({ ...h, storedHash: k.hash });
  }
  return out;
}
