// The one place that maps a unit's configured profile to its implementation. A device model adds
// a schema to config-schema.ts, a case here and its proof in evidence.ts; nothing outside
// gateway/profiles/ changes (docs/device-profiles.md, "Adding a device model").
import type { UnitConfig } from './config-schema.js';
import { lw485Profile } from './lw485.js';
import { meterProfile } from './meter.js';
import { rio8Profile } from './rio8.js';
import type { BoundProfile } from './types.js';

export const PROFILE_IDS = [lw485Profile.id, rio8Profile.id, meterProfile.id] as const;

export function bindProfile(cfg: UnitConfig): BoundProfile {
  switch (cfg.profile) {
    case 'lw485':
      return lw485Profile.bind(cfg);
    case 'rio8':
      return rio8Profile.bind(cfg);
    case 'meter':
      return meterProfile.bind(cfg);
  }
}
