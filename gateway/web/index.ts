// The web feature's public face, for the daemon (composition root) and the tests.
export { WebServer, type WebServerOptions } from './server.js';
export { statusSourceFromDaemon, type UplinkProbe } from './from-daemon.js';
export { webConfigSchema, type WebConfig, type WebConfigInput } from './config-schema.js';
export type { ActionOutcome, MachineInfo, StatusSource, UplinkStatus } from './status-source.js';
export * from './status-schema.js';
export { formatMetrics, PROMETHEUS_CONTENT_TYPE, type MetricFamily } from './prometheus.js';
export { feedbackBodySchema, DEFAULT_FEEDBACK_LIMITS, type FeedbackLimits } from './feedback.js';
export { actionBodySchemas, ACTION_NAMES, type ActionName } from './actions.js';
