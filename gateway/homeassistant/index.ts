// Home Assistant MQTT discovery for the room: see docs/home-assistant.md.
export { HomeAssistantBridge, type HomeAssistantDeps } from './bridge.js';
export { homeAssistantConfigSchema, type HomeAssistantConfig, type HomeAssistantConfigInput } from './config-schema.js';
export { haMachinesOf, type HaMachine } from './machines.js';
