// What every MQTT broker block of the config shares (the cloud's `mqtt`, the building's
// `homeAssistant`): the URL, the login and the TLS files. Each block adds its own topics, timers
// and defaults; the two brokers share nothing at run time.
import { z } from 'zod';

export const absoluteFile = z.string().startsWith('/', 'an absolute file path');

export const brokerUrl = z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'an mqtt://, mqtts://, ws:// or wss:// URL');

export const brokerLogin = {
  username: z.string().min(1).max(128).optional(),
  /** A file holding the password, so the config itself carries no secret. */
  passwordFile: absoluteFile.optional(),
  tls: z
    .strictObject({
      caFile: absoluteFile.optional(),
      certFile: absoluteFile.optional(),
      keyFile: absoluteFile.optional(),
      rejectUnauthorized: z.boolean().default(true),
    })
    .optional(),
};
