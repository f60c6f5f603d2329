// The `control` block of the gateway config: where the daemon listens for the diagnostics CLI.
// The default is in the unit's RuntimeDirectory, so systemd makes and removes the directory.
import { z } from 'zod';

export const DEFAULT_CONTROL_SOCKET = '/run/laundry-gateway/control.sock';

/** sun_path holds 108 bytes on Linux, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;

export const controlConfigSchema = z
  .strictObject({
    socketPath: z
      .string()
      .startsWith('/', 'an absolute path')
      .refine((p) => Buffer.byteLength(p) <= MAX_SOCKET_PATH_BYTES, `a unix socket path has at most ${MAX_SOCKET_PATH_BYTES} bytes`)
      .default(DEFAULT_CONTROL_SOCKET),
    /** Connections at once; at the cap the oldest idle one makes room for a new CLI. */
    maxConnections: z.int().min(1).max(64).default(8),
    /** A connection with nothing under way is closed after this much silence (the CLI sends at once). */
    idleTimeoutMs: z.int().min(100).max(3_600_000).default(10_000),
  })
  .prefault({});

export type ControlConfig = z.output<typeof controlConfigSchema>;
export type ControlConfigInput = z.input<typeof controlConfigSchema>;
