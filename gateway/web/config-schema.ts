// The `web` block of the gateway config: where the status page listens, the names it answers to,
// its connection caps, and the operator token that unlocks its actions. Without a token the page
// is read-only (actions answer 403).
import { z } from 'zod';

/** RFC 6750's b64token: what an `Authorization: Bearer` header can carry, so what can log in. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export const webConfigSchema = z.strictObject({
  /** Loopback by default: opening the page to the room's LAN is a deliberate choice. */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 asks the OS for a free port (tests). */
  port: z.number().int().min(0).max(65535).default(8080),
  /** Bearer token for operator actions; never logged, never sent back. */
  operatorToken: z
    .string()
    .min(16, 'operatorToken must be at least 16 characters')
    .max(512)
    .regex(BEARER_TOKEN, 'operatorToken can only hold letters, digits and - . _ ~ + / (then = padding): anything else (a space, a quote) cannot be sent as a bearer token')
    .optional(),
  /**
   * Host names the page answers to besides IP literals and localhost (DNS rebinding: a request
   * naming any other host is refused), e.g. ["laundry-gw.local"].
   */
  allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'a host name (letters, digits, dots, hyphens)')).max(32).default([]),
  /** Open TCP connections in all. Each is a file descriptor; see LimitNOFILE in the unit. */
  maxConnections: z.int().min(8).max(1024).default(256),
  /** Open TCP connections per client address (an IPv6 client: per /64). A browser uses about 6. */
  maxConnectionsPerClient: z.int().min(2).max(256).default(32),
  /** Live event streams (open pages) in all, and per client address. */
  maxEventStreams: z.int().min(1).max(500).default(50),
  maxEventStreamsPerClient: z.int().min(1).max(50).default(4),
});

export type WebConfig = z.output<typeof webConfigSchema>;
export type WebConfigInput = z.input<typeof webConfigSchema>;
