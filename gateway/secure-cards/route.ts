// The one call the composition root makes to put the gate between the readers and the engine:
// a type S line goes through admitSun, every UID read (any reader type) through admitPlain, and
// only what is admitted reaches `onAdmitted` (the engine's card swipe), with the SUN counter the
// engine must spend in its hold or decline. Declines were recorded by the gate. An exception (a
// ledger that cannot write a decline) is not caught here, as for every reader listener
// (docs/readers.md): on a money path an error is never swallowed.
import type { EventEmitter } from 'node:events';
import type { AttachedTo } from '../readers/config-schema.js';
import type { ReaderEvents } from '../readers/serial-reader.js';
import type { SecureCardGate } from './gate.js';

export interface AdmittedTap {
  readerId: string;
  uid: string;
  /** The reader's machine; null at a kiosk. */
  machineId: string | null;
  /** A secure tap's counter: pass it to ledger.hold / ledger.recordDecline for this tap. Null for a plain card. */
  sunCounter: number | null;
}

function machineOf(a: AttachedTo): string | null {
  return a === 'kiosk' ? null : a.machineId;
}

export function routeCardTaps(readers: EventEmitter<ReaderEvents>, gate: SecureCardGate, onAdmitted: (tap: AdmittedTap) => void): void {
  readers.on('sun', (e) => {
    const machineId = machineOf(e.attachedTo);
    const a = gate.admitSun({ readerId: e.readerId, machineId, text: e.text });
    if (a.admitted) onAdmitted({ readerId: e.readerId, uid: a.uid, machineId, sunCounter: a.sunCounter });
  });
  readers.on('swipe', (e) => {
    const machineId = machineOf(e.attachedTo);
    const a = gate.admitPlain({ readerId: e.readerId, machineId, uid: e.uid });
    if (a.admitted) onAdmitted({ readerId: e.readerId, uid: a.uid, machineId, sunCounter: null });
  });
}
