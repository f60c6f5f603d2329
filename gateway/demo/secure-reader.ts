// The demo's secure card and its type S reader: a socat pseudo-terminal pair stands for the
// reader's USB cable, the gateway reads one end as any type S reader, and a simulated NTAG 424
// DNA card taps on the other (simulator/secure-card.ts), so a newcomer sees a secure vend, the
// same message replayed and declined, and a copy of the card's UID declined as a clone. Without
// socat (the only extra package) the demo runs without it and says so.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimSecureCard } from '../../simulator/index.js';
import { ReaderEmulator } from '../readers/reader-emulator.js';
import type { SecureCardKeyFile } from '../secure-cards/keys.js';

/** The demo operator's keys: the datasheet's example keys (../shared/specs/secure-cards.md), never for a real room. */
const DEMO_KEYS = { version: 1, metaKey: '5A1E7C3D9B24F0866C1D2E3F40516273', masterKey: '0F1E2D3C4B5A69788796A5B4C3D2E1F0', systemId: 'LAUNDRY-OP-0001' };

/** Dave's secure card: on the card list with `secure: true`. */
export const DEMO_SECURE_CARD = { uid: '04519C2A6B1190', accountId: 'acct-dave', balanceCents: 3000, tier: 'standard', machineId: 'W6' } as const;

export interface DemoSecureReader {
  /** The gateway's end, for the reader's config. */
  readonly path: string;
  readonly keyFile: string;
  /** Dave taps his card: a fresh SUN message. */
  tap(): Promise<void>;
  /** The last message again, as someone who recorded it would send it. */
  replay(): Promise<void>;
  /** A blank card carrying dave's UID only, on the same reader. */
  copy(): Promise<void>;
  close(): Promise<void>;
}

function hasSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Null when socat is not installed. */
export async function startDemoSecureReader(dir: string): Promise<DemoSecureReader | null> {
  if (!hasSocat()) return null;
  const keyFile = join(dir, 'secure-card-keys.json');
  const file: SecureCardKeyFile = { keys: [DEMO_KEYS] };
  writeFileSync(keyFile, JSON.stringify(file), { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const a = join(dir, 'sun-reader-gateway');
  const b = join(dir, 'sun-reader-card');
  const socat: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  socat.on('error', () => undefined);
  for (let i = 0; i < 100 && !(existsSync(a) && existsSync(b)); i++) await sleep(20);
  const emulator = new ReaderEmulator({ path: b, type: 'sun' });
  await emulator.open();
  const card = new SimSecureCard({
    uid: DEMO_SECURE_CARD.uid,
    keys: { version: DEMO_KEYS.version, metaKey: Buffer.from(DEMO_KEYS.metaKey, 'hex'), masterKey: Buffer.from(DEMO_KEYS.masterKey, 'hex'), systemId: DEMO_KEYS.systemId },
    counter: 1,
  });
  let last: string | null = null;
  return {
    path: a,
    keyFile,
    tap: async () => {
      last = card.tap();
      await emulator.present(last);
    },
    replay: async () => {
      if (last !== null) await emulator.present(last);
    },
    copy: async () => {
      await emulator.present(card.copyUidLine());
    },
    close: async () => {
      await emulator.close();
      socat.kill('SIGTERM');
    },
  };
}
