// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), table-driven: it runs on every byte of
// every frame of the poll loop, on a Pi.
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc = (crc >>> 8) ^ (TABLE[(crc ^ (buf[i] ?? 0)) & 0xff] ?? 0);
  }
  return crc;
}

/** Writes the CRC of b[0..end) at `end`, low byte first as RTU sends it. */
export function putCrc(b: Uint8Array, end: number): void {
  const crc = crc16(b, 0, end);
  b[end] = crc & 0xff;
  b[end + 1] = crc >>> 8;
}

/** Appends the CRC, low byte first as RTU sends it. */
export function withCrc(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 2);
  body.copy(out, 0);
  putCrc(out, body.length);
  return out;
}

/** True when the two bytes at frame[length-2..length) are the CRC of the bytes before them. */
export function crcOk(frame: Uint8Array, length = frame.length): boolean {
  if (length < 4 || length > frame.length) return false;
  return crc16(frame, 0, length - 2) === (((frame[length - 1] ?? 0) << 8) | (frame[length - 2] ?? 0));
}
