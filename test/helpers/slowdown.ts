// Time limits of tests that wait on real processes and real time, stretched under emulation:
// scripts/arm64/test.sh sets LAUNDRY_TEST_SLOWDOWN, because qemu-user runs the arm64 Node 10-16x
// slower than this machine runs x64 (a CLI started through tsx took over a minute there). It is
// 1 everywhere else, so every limit is the one the test was written with. Only limits (how long
// to wait before giving up) are stretched, never a figure a test asserts about speed.
const raw = process.env.LAUNDRY_TEST_SLOWDOWN;
const factor = raw === undefined || raw === '' ? 1 : Number(raw);
if (!Number.isFinite(factor) || factor < 1 || factor > 100) throw new Error(`LAUNDRY_TEST_SLOWDOWN=${raw ?? ''}: a number from 1 to 100 is expected`);

export const SLOWDOWN = factor;

/** A time limit in ms, stretched by LAUNDRY_TEST_SLOWDOWN. */
export function slow(ms: number): number {
  return Math.round(ms * SLOWDOWN);
}
