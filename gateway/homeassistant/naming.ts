// Every id and topic the Home Assistant feature uses, derived from the room id and machine ids
// only: the same config gives the same unique_ids after every restart, so Home Assistant keeps
// its entities (names, areas, history) instead of making new ones.
import type { HomeAssistantConfig } from './config-schema.js';

/** Per machine: the entities a machine can have. */
export type MachineEntityKey = 'status' | 'remaining' | 'end' | 'running' | 'door' | 'fault';
/** Per room. */
export type RoomEntityKey = 'free_washers' | 'free_dryers';
export type Component = 'sensor' | 'binary_sensor';

/** Discovery ids allow [a-zA-Z0-9_-] only; a room id may hold anything else. */
export function slug(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

export class Naming {
  readonly room: string;
  constructor(
    private readonly cfg: Pick<HomeAssistantConfig, 'discoveryPrefix' | 'topicPrefix'>,
    roomId: string,
  ) {
    this.room = slug(roomId);
  }

  /** The room's device identifier, which every machine names as its `via_device`. */
  get roomDeviceId(): string {
    return `laundry_${this.room}`;
  }

  machineDeviceId(machineId: string): string {
    return `laundry_${this.room}_${machineId}`;
  }

  machineUniqueId(machineId: string, key: MachineEntityKey): string {
    return `${this.machineDeviceId(machineId)}_${key}`;
  }

  roomUniqueId(key: RoomEntityKey): string {
    return `${this.roomDeviceId}_${key}`;
  }

  /** `<prefix>/<component>/<unique_id>/config`: the documented best practice for entities with a unique_id. */
  configTopic(component: Component, uniqueId: string): string {
    return `${this.cfg.discoveryPrefix}/${component}/${uniqueId}/config`;
  }

  get availabilityTopic(): string {
    return `${this.cfg.topicPrefix}/${this.room}/availability`;
  }

  machineStateTopic(machineId: string, key: MachineEntityKey): string {
    return `${this.cfg.topicPrefix}/${this.room}/machines/${machineId}/${key}`;
  }

  faultAttributesTopic(machineId: string): string {
    return `${this.cfg.topicPrefix}/${this.room}/machines/${machineId}/fault/attributes`;
  }

  roomStateTopic(key: RoomEntityKey): string {
    return `${this.cfg.topicPrefix}/${this.room}/room/${key}`;
  }

  /** Whether a topic is a discovery config (published before states when everything goes out again). */
  isConfigTopic(topic: string): boolean {
    return topic.startsWith(`${this.cfg.discoveryPrefix}/`) && topic.endsWith('/config');
  }
}
