// What a vend came to, as the engine reports it to readers, the app's commands and the logs.
import type { ReasonCode } from '../vend/reasons.js';

export type VendOutcome =
  | { result: 'captured'; vendId: string; amountCents: number; machineId: string; program: number }
  | { result: 'refunded'; vendId: string; amountCents: number; machineId: string; reason: ReasonCode | null }
  | { result: 'declined'; reason: ReasonCode; machineId: string | null }
  | { result: 'unresolved'; vendId: string; machineId: string };
