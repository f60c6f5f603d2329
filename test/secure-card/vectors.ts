// The datasheet's test vectors (../shared/specs/secure-cards.md), shared by the tests.
import type { SunKeySet } from '../../protocols/secure-card/index.js';

export const META_KEY_HEX = '5A1E7C3D9B24F0866C1D2E3F40516273';
export const MASTER_KEY_HEX = '0F1E2D3C4B5A69788796A5B4C3D2E1F0';
export const SYSTEM_ID = 'LAUNDRY-OP-0001';

export const SPEC_KEYS: SunKeySet = {
  version: 1,
  metaKey: Buffer.from(META_KEY_HEX, 'hex'),
  masterKey: Buffer.from(MASTER_KEY_HEX, 'hex'),
  systemId: SYSTEM_ID,
};

export const SPEC_VECTORS = [
  { uid: '04A2B9C1D25E80', counter: 7, cardKey: '66A1353519C6AFDB1AD22671DED758D7', piccData: '5FEB986817B564116938A91661382957', cmac: '037426F11B536BB2' },
  { uid: '04A2B9C1D25E80', counter: 8, cardKey: '66A1353519C6AFDB1AD22671DED758D7', piccData: 'E4CC983028D33B7E9121AC29C7CBA519', cmac: 'E3B106CF4F9D14EF' },
  { uid: '04519C2A6B1190', counter: 1, cardKey: '7B73EBC932E7FE930F5783171667FD6C', piccData: 'EF1A9A98FF4EC1809A57F2E9E7EE3C37', cmac: '2D4267201DCF597E' },
] as const;

export const sunLine = (v: { piccData: string; cmac: string }): string => `https://c.example/t?picc_data=${v.piccData}&cmac=${v.cmac}`;

/** NXP AN12196's example: zero meta key, zero card key (no diversification). */
export const AN12196 = { piccData: 'EF963FF7828658A599F3041510671E88', cmac: '94EED9EE65337086', uid: '04DE5F1EACC040', counter: 61 } as const;
