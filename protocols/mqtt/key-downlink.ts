// The JSON text inside a down/keys envelope (signed like every downlink but the ack,
// protocols/mqtt/sign-downlink.ts): the operator's secure-card key versions for this room, the
// whole live set each time (a version left out is retired), under a message version that only
// goes up, so an old message (with a retired, perhaps stolen, key) cannot be replayed.
import { z } from 'zod';
import { secureCardKeyListSchema } from '../secure-card/key-set.js';

export const keyDownlinkSchema = z.strictObject({
  type: z.literal('secure-card-keys'),
  roomId: z.string().min(1).max(64),
  /** Raised by the cloud with every key message; the gateway applies only a higher one. */
  version: z.number().int().positive(),
  keys: secureCardKeyListSchema,
});
export type KeyDownlink = z.output<typeof keyDownlinkSchema>;
