// The discovery configs: pure functions from a machine (or the room) to the retained JSON Home
// Assistant reads on <prefix>/<component>/<unique_id>/config. One device per machine, routed
// through the room's device (`via_device`); every entity available only while the gateway's
// retained availability topic says `online` (its last will says `offline`).
//
// Read-only by construction: no entity here has a command topic, and every state topic carries
// one value from state-view.ts, which never reads credit, price, card or account.
import type { MachineStatus } from '../machines/state.js';
import type { HaMachine } from './machines.js';
import type { Component, MachineEntityKey, Naming, RoomEntityKey } from './naming.js';
import type { HaBinarySensorConfig, HaDevice, HaSensorConfig } from './discovery-schema.js';

/** The gateway's machine states, in the order Home Assistant lists them. */
export const STATUS_OPTIONS: readonly MachineStatus[] = ['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service', 'offline'];

export const ORIGIN = { name: 'laundry-gateway' } as const;

export interface DiscoveryConfig {
  component: Component;
  uniqueId: string;
  topic: string;
  payload: HaSensorConfig | HaBinarySensorConfig;
}

/**
 * Which entities a machine has. A RIO-8 coin retrofit only sees whether its machine runs: it
 * cannot read the remaining time, the door or faults, so it gets no entity that would stay
 * unknown forever. Its expected end is estimated from the start the gateway saw and the cycle
 * length in the config.
 */
export function machineEntityKeys(m: Pick<HaMachine, 'profile'>): MachineEntityKey[] {
  return m.profile === 'lw485' ? ['status', 'remaining', 'end', 'running', 'door', 'fault'] : ['status', 'end', 'running'];
}

const COMPONENT_OF: Record<MachineEntityKey, Component> = { status: 'sensor', remaining: 'sensor', end: 'sensor', running: 'binary_sensor', door: 'binary_sensor', fault: 'binary_sensor' };

/** The config topics of a machine: from its id and profile alone, known before its kind is. */
export function machineConfigTopics(n: Naming, m: Pick<HaMachine, 'machineId' | 'profile'>): string[] {
  return machineEntityKeys(m).map((k) => n.configTopic(COMPONENT_OF[k], n.machineUniqueId(m.machineId, k)));
}

export function machineModel(m: Pick<HaMachine, 'profile' | 'kind'>): string {
  if (m.profile === 'rio8') return 'RIO-8 coin machine';
  if (m.profile === 'lw485') return m.kind === null ? 'LW-485' : `LW-485 ${m.kind}`;
  // Another device model: its profile id says what it is.
  return m.kind === null ? m.profile : `${m.profile} ${m.kind}`;
}

export function machineDisplayName(m: Pick<HaMachine, 'machineId' | 'name' | 'kind'>): string {
  if (m.name !== null) return m.name;
  const kind = m.kind === 'dryer' ? 'Dryer' : m.kind === 'washer' ? 'Washer' : 'Machine';
  return `${kind} ${m.machineId}`;
}

function icon(kind: HaMachine['kind']): string {
  return kind === 'dryer' ? 'mdi:tumble-dryer' : 'mdi:washing-machine';
}

export function roomDevice(n: Naming, room: { id: string; name?: string | undefined }): HaDevice {
  return { identifiers: [n.roomDeviceId], name: room.name ?? `Laundry room ${room.id}`, model: 'laundry-gateway' };
}

export function machineConfigs(n: Naming, m: HaMachine): DiscoveryConfig[] {
  const device: HaDevice = { identifiers: [n.machineDeviceId(m.machineId)], name: machineDisplayName(m), model: machineModel(m), via_device: n.roomDeviceId };
  const base = (key: MachineEntityKey): { unique_id: string; state_topic: string; availability_topic: string; device: HaDevice; origin: typeof ORIGIN; qos: 1 } => ({
    unique_id: n.machineUniqueId(m.machineId, key),
    state_topic: n.machineStateTopic(m.machineId, key),
    availability_topic: n.availabilityTopic,
    device,
    origin: ORIGIN,
    qos: 1,
  });
  const specs: Record<MachineEntityKey, () => DiscoveryConfig> = {
    status: () => sensor({ ...base('status'), name: 'Status', device_class: 'enum', options: [...STATUS_OPTIONS], icon: icon(m.kind) }),
    remaining: () => sensor({ ...base('remaining'), name: 'Remaining time', device_class: 'duration', unit_of_measurement: 'min', icon: 'mdi:timer-sand' }),
    end: () => sensor({ ...base('end'), name: 'Expected end', device_class: 'timestamp' }),
    running: () => binary({ ...base('running'), name: 'Running', device_class: 'running' }),
    door: () => binary({ ...base('door'), name: 'Door', device_class: 'door' }),
    fault: () => binary({ ...base('fault'), name: 'Fault', device_class: 'problem', json_attributes_topic: n.faultAttributesTopic(m.machineId) }),
  };
  return machineEntityKeys(m).map((k) => specs[k]());

  function sensor(payload: HaSensorConfig & { unique_id: string }): DiscoveryConfig {
    return { component: 'sensor', uniqueId: payload.unique_id, topic: n.configTopic('sensor', payload.unique_id), payload };
  }
  function binary(payload: HaBinarySensorConfig & { unique_id: string }): DiscoveryConfig {
    return { component: 'binary_sensor', uniqueId: payload.unique_id, topic: n.configTopic('binary_sensor', payload.unique_id), payload };
  }
}

export const ROOM_ENTITY_KEYS: readonly RoomEntityKey[] = ['free_washers', 'free_dryers'];

export function roomConfigs(n: Naming, room: { id: string; name?: string | undefined }): DiscoveryConfig[] {
  const device = roomDevice(n, room);
  return ROOM_ENTITY_KEYS.map((key) => {
    const uniqueId = n.roomUniqueId(key);
    const payload: HaSensorConfig = {
      unique_id: uniqueId,
      name: key === 'free_washers' ? 'Free washers' : 'Free dryers',
      state_topic: n.roomStateTopic(key),
      availability_topic: n.availabilityTopic,
      state_class: 'measurement',
      icon: key === 'free_washers' ? 'mdi:washing-machine' : 'mdi:tumble-dryer',
      device,
      origin: ORIGIN,
      qos: 1,
    };
    return { component: 'sensor', uniqueId, topic: n.configTopic('sensor', uniqueId), payload };
  });
}
