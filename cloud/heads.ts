// The chain heads a gateway's batches carry (auditHead, moneyHead: the heads of its ledger's audit
// and money hash chains when the batch was read), as pure bookkeeping. The cloud keeps every head
// a stored batch carried (table gateway_heads: the anchors a rewritten room ledger is checked
// against, `laundry-gateway audit verify --audit-head … --money-head …`) and acks the newest of
// each chain back; the gateway keeps that as its acknowledged anchor when its own chain holds it.
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
