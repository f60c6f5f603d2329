// The gateways whose row in `gateways` a worker has seen committed. The ingest transaction's
// first statement inserts the group's gateway rows (ON CONFLICT DO NOTHING) so that the lock
// finds them; a worker that has committed a gateway's batch before knows its row exists (the
// cloud never deletes one) and leaves that statement out: one round trip, parse and plan fewer
// per transaction in a fleet that is past its first contact. Should a known row be gone all the
// same (deleted by hand), the lock finds fewer rows than asked for and the transaction inserts
// them then (store.ts).

/** More entries than this and the set starts again (each gateway is learnt at its next commit). */
const MAX_KNOWN = 1_000_000;

export class KnownGateways {
  private readonly ids = new Set<string>();

  /** The ids of these whose row is not known to exist. */
  unknown(ids: readonly string[]): string[] {
    return ids.filter((id) => !this.ids.has(id));
  }

  /** After a COMMIT: these rows exist. */
  learn(ids: Iterable<string>): void {
    for (const id of ids) {
      if (this.ids.size >= MAX_KNOWN) this.ids.clear();
      this.ids.add(id);
    }
  }

  /** A row thought known was not found: learnt again at its next commit. */
  forget(ids: Iterable<string>): void {
    for (const id of ids) this.ids.delete(id);
  }
}
