// Driving one vend session: the pure vend machine (gateway/vend/vend-machine.ts) decides each
// step, actions.ts carries each action out and answers with the next event, until none is left.
// Then the session's end becomes the vend's outcome; a capture or refund the ledger did not store
// is handed back as unsettled (retried by the reconcile), an unresolved vend blocks its machine.
import type { Logger } from '../core/log.js';
import { createVendSession, stepVend, type VendEvent, type VendMachineOptions, type VendRequest, type VendSession } from '../vend/vend-machine.js';
import { performAction, type ActionContext, type ActionDeps, type VendContext } from './actions.js';
import type { MachineClaims } from './machine-claims.js';
import type { VendOutcome } from './vend-outcome.js';

export interface SessionDeps {
  /** The actions' dependencies in force (the balance floor follows the risk rules). */
  actions(): ActionDeps;
  /** The pure vend machine's own options (read-backs per credit). */
  vendMachine: VendMachineOptions;
  log: Logger;
}

/** Feeds one event and then every event the resulting actions produce, until none is left. */
export async function drive(d: SessionDeps, start: VendSession, first: VendEvent, ctx: ActionContext): Promise<VendSession> {
  let session = start;
  const queue: VendEvent[] = [first];
  for (let ev = queue.shift(); ev !== undefined; ev = queue.shift()) {
    const step = stepVend(session, ev, d.vendMachine);
    if (step.ignored) d.log.debug({ event: ev.type, state: session.state }, 'vend event ignored');
    session = step.session;
    for (const action of step.actions) {
      const next = await performAction(d.actions(), action, session, ctx);
      if (next !== null) queue.push(next);
    }
  }
  return session;
}

export interface RunVendDeps extends SessionDeps {
  claims: Pick<MachineClaims, 'ended' | 'block'>;
  /** A session whose capture or refund the ledger did not store: kept for the reconcile. */
  keepUnsettled(vendId: string, session: VendSession, ctx: ActionContext): void;
}

/** Runs one authorised vend from the hold to its end on a machine already claimed. */
export async function runVend(d: RunVendDeps, ctx: VendContext, request: VendRequest): Promise<VendOutcome> {
  let session = createVendSession(request);
  try {
    session = await drive(d, session, { type: 'begin' }, ctx);
    session = await drive(d, session, { type: 'authorized', amountCents: ctx.price.amountCents }, ctx);
  } finally {
    d.claims.ended(ctx.machineId);
  }
  const vendId = session.vendId;
  if ((session.state === 'capturing' || session.state === 'refunding') && vendId !== null) {
    // The machine's answer is known but the ledger did not store the money step: not done.
    d.keepUnsettled(vendId, session, ctx);
  }
  switch (session.state) {
    case 'captured':
      return { result: 'captured', vendId: vendId ?? '', amountCents: ctx.price.amountCents, machineId: ctx.machineId, program: ctx.program };
    case 'refunded':
      return { result: 'refunded', vendId: vendId ?? '', amountCents: ctx.price.amountCents, machineId: ctx.machineId, reason: session.reason };
    case 'declined':
      return { result: 'declined', reason: session.reason ?? 'internal_error', machineId: ctx.machineId };
    default:
      d.claims.block(ctx.machineId);
      return { result: 'unresolved', vendId: vendId ?? '', machineId: ctx.machineId };
  }
}
