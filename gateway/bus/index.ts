// The bus master's public surface, for the composition root, the poller and the CLI.
export type { BusClient, BusFailure, BusPriority, BusRequestOptions, BusResult, UnitStats } from './types.js';
export { BusMaster, type BusMasterEvents } from './bus-master.js';
export { BusMasterOptionsSchema, LineFormatSchema, resolveBusMasterOptions, type BusMasterOptions, type ResolvedBusMasterOptions } from './options.js';
export { createBus, BusConfigSchema, type BusConfig } from './create.js';
export type { Transport, TransportEvents } from './transport.js';
export { TransportDownError } from './transport.js';
export { SerialTransport, SerialTransportOptionsSchema, type SerialTransportOptions } from './serial-transport.js';
export { TcpTransport, TcpTransportOptionsSchema, type TcpTransportOptions } from './tcp-transport.js';
export { CircuitBreaker, type BreakerOptions, type BreakerState, type BreakerTransition } from './breaker.js';
export { DEFAULT_LATENCY_BUCKETS_MS, type BusStats, type BusUnitStats, type LatencyHistogram } from './stats.js';
export { mergeBlocks, planPoll, type PollPlan, type PollPlanInput, type ReadBlock } from './poll-plan.js';
export { scanBus, type BusScanOptions, type ScanHit } from './bus-scan.js';
