// Binds a server (TCP or HTTP) and says which port it got: port 0 picks a free one, and a port
// already in use rejects instead of throwing later from an 'error' event.
import type { Server } from 'node:net';

export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}
