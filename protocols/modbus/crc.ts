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

/** Appends the CRC, low byte first as RTU sends it. */
export function withCrc(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 2);
  body.copy(out, 0);
  out.writeUInt16LE(crc16(body), body.length);
  return out;
}

/** True when the last two bytes of `frame` are the CRC of the rest. */
export function crcOk(frame: Buffer): boolean {
  if (frame.length < 4) return false;
  return crc16(frame, 0, frame.length - 2) === frame.readUInt16LE(frame.length - 2);
}
