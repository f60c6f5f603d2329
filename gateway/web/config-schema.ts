// The `web` block of the gateway config: where the status page listens and the operator token
// that unlocks its actions. Without a token the page is read-only (actions answer 403).
import { z } from 'zod';

export const webConfigSchema = z.strictObject({
  /** Loopback by default: opening the page to the room's LAN is a deliberate choice. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 asks the OS for a free port (tests). */
  port: z.number().int().min(0).max(65535).default(8080),
  /** Bearer token for operator actions; never logged, never sent back. */
  operatorToken: z.string().min(16, 'operatorToken must be at least 16 characters').max(512).optional(),
});

export type WebConfig = z.output<typeof webConfigSchema>;
export type WebConfigInput = z.input<typeof webConfigSchema>;
