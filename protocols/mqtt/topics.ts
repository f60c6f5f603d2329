// The MQTT topic layout, one place for the gateway, the reference cloud consumer and the docs.
// laundry/v1/<roomId>/up/<name>[/<machineId>] and laundry/v1/<roomId>/down/<name>. The version
// sits in the path so a v2 gateway and a v1 cloud never read each other's payloads by accident.
import { z } from 'zod';

export const DEFAULT_TOPIC_PREFIX = 'laundry/v1';

export const UP_NAMES = ['batch', 'state', 'health', 'status', 'reject', 'command-result'] as const;
export const DOWN_NAMES = ['ack', 'config', 'cards', 'accounts', 'topups', 'commands', 'keys'] as const;
export type UpName = (typeof UP_NAMES)[number];
export type DownName = (typeof DOWN_NAMES)[number];

/** A topic segment must not carry MQTT wildcards or separators; ids come from config and devices. */
export const topicSegmentSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-", 1 to 64');
const prefixSchema = z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'slash-separated segments without wildcards');

export interface RoomTopics {
  readonly prefix: string;
  readonly roomId: string;
  up(name: Exclude<UpName, 'state'>): string;
  state(machineId: string): string;
  down(name: DownName): string;
  /** Subscription filter for every downlink of this room. */
  readonly downFilter: string;
}

export function roomTopics(roomId: string, prefix: string = DEFAULT_TOPIC_PREFIX): RoomTopics {
  const room = topicSegmentSchema.parse(roomId);
  const p = prefixSchema.parse(prefix);
  const base = `${p}/${room}`;
  return {
    prefix: p,
    roomId: room,
    up: (name) => `${base}/up/${name}`,
    state: (machineId) => `${base}/up/state/${topicSegmentSchema.parse(machineId)}`,
    down: (name) => `${base}/down/${name}`,
    downFilter: `${base}/down/+`,
  };
}

/** Subscription filter for every uplink of every room (the cloud side). */
export function allUplinksFilter(prefix: string = DEFAULT_TOPIC_PREFIX): string {
  return `${prefixSchema.parse(prefix)}/+/up/#`;
}

export type ParsedTopic =
  | { direction: 'up'; roomId: string; name: UpName; machineId: string | null }
  | { direction: 'down'; roomId: string; name: DownName };

/** Splits a concrete topic; null for anything outside the layout (never throws on outside input). */
export function parseTopic(topic: string, prefix: string = DEFAULT_TOPIC_PREFIX): ParsedTopic | null {
  if (!topic.startsWith(`${prefix}/`)) return null;
  const parts = topic.slice(prefix.length + 1).split('/');
  const [roomId, dir, name, extra, ...rest] = parts;
  if (roomId === undefined || dir === undefined || name === undefined || rest.length > 0) return null;
  if (!topicSegmentSchema.safeParse(roomId).success) return null;
  if (dir === 'down') {
    if (extra !== undefined || !isDownName(name)) return null;
    return { direction: 'down', roomId, name };
  }
  if (dir === 'up' && isUpName(name)) {
    if (name === 'state') {
      if (extra === undefined || !topicSegmentSchema.safeParse(extra).success) return null;
      return { direction: 'up', roomId, name, machineId: extra };
    }
    if (extra !== undefined) return null;
    return { direction: 'up', roomId, name, machineId: null };
  }
  return null;
}

function isDownName(s: string): s is DownName {
  return (DOWN_NAMES as readonly string[]).includes(s);
}

function isUpName(s: string): s is UpName {
  return (UP_NAMES as readonly string[]).includes(s);
}
