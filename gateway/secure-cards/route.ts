// The one call the composition root makes to put the gate between the readers and the engine:
// a type S line goes through admitSun, every UID read (any reader type) through admitPlain, and
// only what is admitted reaches `onAdmitted` (the engine's card swipe), with the SUN counter the
// engine must spend in its hold or decline. Declines were recorded by the gate. A reader does not
// catch its listeners' exceptions (docs/readers.md), so this listener handles its own: a gate that
// could not record its decision (a ledger that cannot write) vends nothing, and `onFailed` is told
// loudly; the error is never swallowed into an admission.
import type { EventEmitter } from 'node:events';
import type { AttachedTo } from '../readers/config-schema.js';
import type { ReaderEvents } from '../readers/serial-reader.js';
import type { Admission, SecureCardGate } from './gate.js';

export interface AdmittedTap {
  readerId: string;
  uid: string;
  /** The reader's machine; null at a kiosk. */
  machineId: string | null;
  /** A secure tap's counter: pass it to ledger.hold / ledger.recordDecline for this tap. Null for a plain card. */
  sunCounter: number | null;
}

export interface RouteHandlers {
  onAdmitted: (tap: AdmittedTap) => void;
  /** The gate threw (its decline could not be written): nothing vended for this tap. */
  onFailed: (f: { readerId: string; machineId: string | null; tap: 'sun' | 'plain'; err: unknown }) => void;
}

function machineOf(a: AttachedTo): string | null {
  return a === 'kiosk' ? null : a.machineId;
}

export function routeCardTaps(readers: EventEmitter<ReaderEvents>, gate: SecureCardGate, h: RouteHandlers): void {
  const admit = (readerId: string, machineId: string | null, tap: 'sun' | 'plain', decide: () => Admission): void => {
    let a: Admission;
    try {
      a = decide();
    } catch (err) {
      h.onFailed({ readerId, machineId, tap, err });
      return;
    }
    if (a.admitted) h.onAdmitted({ readerId, uid: a.uid, machineId, sunCounter: a.sunCounter });
  };
  readers.on('sun', (e) => {
    const machineId = machineOf(e.attachedTo);
    admit(e.readerId, machineId, 'sun', () => gate.admitSun({ readerId: e.readerId, machineId, text: e.text }));
  });
  readers.on('swipe', (e) => {
    const machineId = machineOf(e.attachedTo);
    admit(e.readerId, machineId, 'plain', () => gate.admitPlain({ readerId: e.readerId, machineId, uid: e.uid }));
  });
}
