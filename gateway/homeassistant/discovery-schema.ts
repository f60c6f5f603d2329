// The discovery payloads of the two Home Assistant MQTT components this feature uses, written from
// Home Assistant's documentation (integrations/sensor.mqtt, integrations/binary_sensor.mqtt, the
// "MQTT Discovery" part of integrations/mqtt, the device classes of integrations/sensor and
// integrations/binary_sensor). Home Assistant ignores unknown keys; these schemas are strict so a
// misspelt key of ours is caught here instead of silently ignored there. Only full key names are
// listed: this feature never publishes the abbreviations.
import { z } from 'zod';

const topic = z.string().min(1).refine((t) => !t.includes('+') && !t.includes('#'), 'a topic to subscribe to one thing: no wildcards');

/** `device`: ties the entity into the device registry; at least one of identifiers and connections. */
export const haDeviceSchema = z
  .strictObject({
    configuration_url: z.string().regex(/^(https?|homeassistant):\/\//).optional(),
    connections: z.array(z.tuple([z.string(), z.string()])).optional(),
    hw_version: z.string().optional(),
    identifiers: z.union([z.string(), z.array(z.string().min(1)).min(1)]).optional(),
    manufacturer: z.string().optional(),
    model: z.string().optional(),
    model_id: z.string().optional(),
    name: z.string().optional(),
    serial_number: z.string().optional(),
    suggested_area: z.string().optional(),
    sw_version: z.string().optional(),
    /** Identifier of the device that routes this one's messages (a hub; here the room). */
    via_device: z.string().optional(),
  })
  .refine((d) => d.identifiers !== undefined || d.connections !== undefined, 'at least one of identifiers or connections must be present');

/** `origin`: recommended for single-component discovery, logged by Home Assistant. */
export const haOriginSchema = z.strictObject({
  name: z.string().min(1),
  sw_version: z.string().optional(),
  support_url: z.string().optional(),
});

const availabilityEntry = z.strictObject({
  topic,
  payload_available: z.string().optional(),
  payload_not_available: z.string().optional(),
  value_template: z.string().optional(),
});

/** Keys every MQTT entity platform documents alike. */
const common = {
  availability: z.array(availabilityEntry).min(1).optional(),
  availability_mode: z.enum(['all', 'any', 'latest']).optional(),
  availability_template: z.string().optional(),
  availability_topic: topic.optional(),
  device: haDeviceSchema.optional(),
  enabled_by_default: z.boolean().optional(),
  encoding: z.string().optional(),
  entity_picture: z.string().optional(),
  expire_after: z.number().int().min(0).optional(),
  force_update: z.boolean().optional(),
  icon: z.string().regex(/^[a-z]+:[a-z0-9-]+$/, 'an icon such as mdi:washing-machine').optional(),
  json_attributes_template: z.string().optional(),
  json_attributes_topic: topic.optional(),
  /** null: the entity is the device's main feature and takes the device's name. */
  name: z.string().nullable().optional(),
  object_id: z.string().optional(),
  origin: haOriginSchema.optional(),
  payload_available: z.string().optional(),
  payload_not_available: z.string().optional(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  state_topic: topic,
  unique_id: z.string().min(1).optional(),
  value_template: z.string().optional(),
};

/** The sensor device classes whose state is not a number. */
const NON_NUMERIC = ['date', 'enum', 'timestamp'] as const;
export const SENSOR_DEVICE_CLASSES = [
  'apparent_power', 'aqi', 'area', 'atmospheric_pressure', 'battery', 'blood_glucose_concentration', 'carbon_dioxide', 'carbon_monoxide', 'current',
  'data_rate', 'data_size', 'date', 'distance', 'duration', 'energy', 'energy_storage', 'enum', 'frequency', 'gas', 'humidity', 'illuminance',
  'irradiance', 'moisture', 'monetary', 'nitrogen_dioxide', 'nitrogen_monoxide', 'nitrous_oxide', 'ozone', 'ph', 'pm1', 'pm25', 'pm10',
  'power_factor', 'power', 'precipitation', 'precipitation_intensity', 'pressure', 'reactive_power', 'signal_strength', 'sound_pressure', 'speed',
  'sulphur_dioxide', 'temperature', 'timestamp', 'volatile_organic_compounds', 'volatile_organic_compounds_parts', 'voltage', 'volume',
  'volume_flow_rate', 'volume_storage', 'water', 'weight', 'wind_speed',
] as const;
/** "duration: Duration in d, h, min, s, or ms". */
const DURATION_UNITS = ['d', 'h', 'min', 's', 'ms'];

export const haSensorConfigSchema = z
  .strictObject({
    ...common,
    /** "The `device_class` can be `null`." */
    device_class: z.enum(SENSOR_DEVICE_CLASSES).nullable().optional(),
    /** "When set, the entity category must be `diagnostic` for sensors." */
    entity_category: z.literal('diagnostic').optional(),
    last_reset_value_template: z.string().optional(),
    options: z.array(z.string().min(1)).optional(),
    state_class: z.enum(['measurement', 'measurement_angle', 'total', 'total_increasing']).optional(),
    suggested_display_precision: z.number().int().min(0).optional(),
    unit_of_measurement: z.string().nullable().optional(),
  })
  .superRefine((c, ctx) => {
    const issue = (message: string, path: string): void => ctx.addIssue({ code: 'custom', message, path: [path] });
    if (c.availability !== undefined && c.availability_topic !== undefined) issue('availability and availability_topic must not be used together', 'availability');
    if (c.options !== undefined) {
      if (c.options.length === 0) issue('an empty options list is not allowed', 'options');
      if (c.device_class !== 'enum') issue("options needs device_class 'enum'", 'options');
      if (c.state_class !== undefined || c.unit_of_measurement !== undefined) issue('options cannot be used together with state_class or unit_of_measurement', 'options');
    }
    if (c.device_class === 'enum' && c.options === undefined) issue("an 'enum' sensor lists its states in options", 'options');
    const nonNumeric = c.device_class != null && (NON_NUMERIC as readonly string[]).includes(c.device_class);
    if (nonNumeric && (c.state_class !== undefined || (c.unit_of_measurement ?? null) !== null)) issue(`a '${c.device_class}' sensor has no state_class or unit`, 'device_class');
    if (c.device_class === 'duration' && !DURATION_UNITS.includes(c.unit_of_measurement ?? '')) issue(`a duration is in ${DURATION_UNITS.join(', ')}`, 'unit_of_measurement');
    if (c.last_reset_value_template !== undefined && c.state_class !== 'total') issue("last_reset_value_template needs state_class 'total'", 'state_class');
  });

export const BINARY_SENSOR_DEVICE_CLASSES = [
  'battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat', 'light', 'lock', 'moisture',
  'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem', 'running', 'safety', 'smoke', 'sound', 'tamper', 'update',
  'vibration', 'window',
] as const;

export const haBinarySensorConfigSchema = z
  .strictObject({
    ...common,
    device_class: z.enum(BINARY_SENSOR_DEVICE_CLASSES).nullable().optional(),
    entity_category: z.literal('diagnostic').optional(),
    off_delay: z.number().int().min(0).optional(),
    payload_off: z.string().optional(),
    payload_on: z.string().optional(),
  })
  .refine((c) => !(c.availability !== undefined && c.availability_topic !== undefined), 'availability and availability_topic must not be used together');

/** What this feature adds to the documented minimum: every entity in a device, with a unique_id and an origin. */
export const ownEntityRules = z.object({ unique_id: z.string().min(1), device: haDeviceSchema, origin: haOriginSchema });

export type HaSensorConfig = z.input<typeof haSensorConfigSchema>;
export type HaBinarySensorConfig = z.input<typeof haBinarySensorConfigSchema>;
export type HaDevice = z.input<typeof haDeviceSchema>;

/**
 * What a state topic may carry, as Home Assistant reads it: "None" is unknown for both
 * components; a binary sensor takes its payload_on/payload_off (ON/OFF by default); a timestamp
 * sensor an ISO 8601 date and time with its time zone.
 */
export const haStatePayload = {
  binary: z.enum(['ON', 'OFF', 'None']),
  integer: z.union([z.literal('None'), z.string().regex(/^(0|[1-9][0-9]*)$/)]),
  timestamp: z.union([z.literal('None'), z.iso.datetime({ offset: true })]),
  enumOf: (options: readonly string[]) => z.union([z.literal('None'), z.enum(options as [string, ...string[]])]),
};
