// The one place that maps a unit's configured profile to its implementation. A third device
// model adds a schema to config-schema.ts and a case here; nothing else changes.
import type { UnitConfig } from './config-schema.js';
import { lw485Profile } from './lw485.js';
import { rio8Profile } from './rio8.js';
import type { BoundProfile } from './types.js';

export const PROFILE_IDS = [lw485Profile.id, rio8Profile.id] as const;

export function bindProfile(cfg: UnitConfig): BoundProfile {
  switch (cfg.profile) {
    case 'lw485':
      return lw485Profile.bind(cfg);
    case 'rio8':
      return rio8Profile.bind(cfg);
  }
}
