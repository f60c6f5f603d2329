// Every way a reader line can carry something that is not a card or a code. One union so the
// gateway's counters and the status page name the same reasons the framers report.
export type NoiseReason =
  /** A delimiter with nothing before it (a stray CR LF, a scanner's empty read). */
  | 'empty'
  /** Longer than the family's cap (64 bytes for card readers, 512 for type S, 2048 for QR scanners). */
  | 'oversize'
  /** A byte that the family never sends inside a frame. */
  | 'bad-char'
  /** Right alphabet, wrong number of characters. */
  | 'bad-length'
  /** EM4100: the XOR of the data bytes does not match the checksum characters. */
  | 'bad-checksum'
  /** A frame started but was interrupted (a new STX, or the line went quiet mid-frame). */
  | 'cut-frame'
  /** Bytes outside any frame (EM4100: before an STX). */
  | 'stray-bytes'
  /** QR: the text is not valid UTF-8. */
  | 'bad-encoding'
  /** QR: a control character inside the text. */
  | 'control-char'
  /** Type S: printable, but neither a SUN URI (no picc_data or cmac parameter) nor a UID: line. */
  | 'not-sun';

export const NOISE_REASONS: readonly NoiseReason[] = [
  'empty',
  'oversize',
  'bad-char',
  'bad-length',
  'bad-checksum',
  'cut-frame',
  'stray-bytes',
  'bad-encoding',
  'control-char',
  'not-sun',
];
