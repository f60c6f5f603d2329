// The room in the building's Home Assistant: every machine a device with its entities, announced
// through MQTT discovery on the building's own broker, kept current from the pollers' state
// changes. A feature with start()/stop(); it takes the machine states it is given and never
// touches a machine, the ledger or the cloud uplink.
//
// Costs the room nothing: the state listener only records values (a map bounded by the entities)
// and returns; the connection, its backoff and its slowness live in the Publisher.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { MachineKind, MachineState } from '../machines/state.js';
import type { HomeAssistantConfig } from './config-schema.js';
import { machineConfigTopics, machineConfigs, machineEntityKeys, roomConfigs, type DiscoveryConfig } from './discovery.js';
import { haBinarySensorConfigSchema, haSensorConfigSchema } from './discovery-schema.js';
import { EntityFile } from './entity-file.js';
import type { HaMachine } from './machines.js';
import { Naming } from './naming.js';
import { Publisher, type PublisherStats } from './publisher.js';
import { machineView, roomCounts } from './state-view.js';

export interface HomeAssistantDeps {
  config: HomeAssistantConfig;
  room: { id: string; name?: string | undefined };
  machines: readonly HaMachine[];
  /** Every polled state change of every machine; returns the unsubscribe. */
  subscribeStates(listener: (s: MachineState) => void): () => void;
  /** The latest state of every machine polled so far. */
  currentStates(): MachineState[];
  /** Where the list of published configs is kept (beside the ledger). */
  entitiesFile: string;
  /** False while the wall clock is not known good: no expected end is shown then. */
  clockTrusted?: () => boolean;
  logger: Logger;
  clock: Clock;
  random?: () => number;
}

interface Tracked {
  machine: HaMachine;
  kind: MachineKind | null;
  status: MachineState['status'] | null;
  endMs: number | null;
  /** When the gateway saw a machine without a remaining time start running (null: not seen). */
  runningSinceMs: number | null;
}

export class HomeAssistantBridge {
  private readonly naming: Naming;
  private readonly publisher: Publisher;
  private readonly file: EntityFile;
  private readonly tracked = new Map<string, Tracked>();
  /**
   * Config topics of every configured machine (announced, or to be once its kind is known), and
   * those still to be emptied (machines taken out of the config).
   */
  private readonly configured = new Set<string>();
  private announced = 0;
  private readonly removing = new Set<string>();
  private readonly log: Logger;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly d: HomeAssistantDeps) {
    this.log = d.logger.child({ feature: 'home-assistant' });
    this.naming = new Naming(d.config, d.room.id);
    this.file = new EntityFile(d.entitiesFile, this.log);
    this.publisher = new Publisher({
      config: d.config,
      clientId: d.config.clientId ?? `laundry-gateway-${this.naming.room}`.slice(0, 64),
      will: { topic: this.naming.availabilityTopic, payload: 'offline' },
      logger: this.log,
      clock: d.clock,
      ...(d.random ? { random: d.random } : {}),
      isPriority: (t) => this.naming.isConfigTopic(t),
      onOnceDone: (t) => {
        this.removing.delete(t);
        this.saveFile();
      },
    });
    for (const m of d.machines) {
      this.tracked.set(m.machineId, { machine: m, kind: m.kind, status: null, endMs: null, runningSinceMs: null });
      for (const t of machineConfigTopics(this.naming, m)) this.configured.add(t);
    }
    for (const c of roomConfigs(this.naming, d.room)) this.configured.add(c.topic);
  }

  /** Never waits for the broker: it connects (and reconnects) in the background. */
  start(): void {
    if (this.unsubscribe !== null) return;
    for (const c of roomConfigs(this.naming, this.d.room)) this.announce(c);
    for (const s of this.d.currentStates()) this.learnKind(s);
    for (const t of this.tracked.values()) if (t.kind !== null) this.announceMachine(t);
    // What was announced before and is not now: emptied, so Home Assistant removes it.
    for (const topic of this.file.load()) {
      if (this.configured.has(topic)) continue;
      this.removing.add(topic);
      this.publisher.set(topic, '', { once: true });
    }
    this.saveFile();
    this.publisher.set(this.naming.availabilityTopic, 'online');
    for (const s of this.d.currentStates()) this.onState(s);
    this.publishCounts();
    this.unsubscribe = this.d.subscribeStates((s) => {
      // Called from the poll loop: nothing may escape into it.
      try {
        this.onState(s);
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.message : String(e), machineId: s.machineId }, 'home assistant state not published');
      }
    });
    this.publisher.start();
    this.log.info({ machines: this.tracked.size, entities: this.announced, removing: this.removing.size }, 'home assistant discovery started');
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.publisher.stop({ topic: this.naming.availabilityTopic, payload: 'offline' });
  }

  stats(): PublisherStats & { entities: number; removing: number } {
    return { ...this.publisher.stats(), entities: this.announced, removing: this.removing.size };
  }

  private onState(s: MachineState): void {
    const t = this.tracked.get(s.machineId);
    if (t === undefined) return;
    if (this.learnKind(s)) this.announceMachine(t);
    const statusChanged = t.status !== s.status;
    // Only a start seen happening counts: a machine already running when the gateway started has no known start.
    if (s.status !== 'running') t.runningSinceMs = null;
    else if (statusChanged && t.status !== null) t.runningSinceMs = s.observedAt;
    t.status = s.status;
    if (t.kind === null) return;
    const keys = machineEntityKeys(t.machine);
    const cycle = t.machine.cycleMinutes === null ? null : { runningSinceMs: t.runningSinceMs, cycleMinutes: t.machine.cycleMinutes };
    const view = machineView(s, keys, t.endMs, this.d.clockTrusted?.() ?? true, cycle);
    t.endMs = view.endMs;
    for (const k of keys) {
      const v = view.values[k];
      if (v !== undefined) this.publisher.set(this.naming.machineStateTopic(s.machineId, k), v);
    }
    if (keys.includes('fault')) this.publisher.set(this.naming.faultAttributesTopic(s.machineId), JSON.stringify(view.faultAttributes));
    if (statusChanged) this.publishCounts();
  }

  /** True when the machine's kind became known or changed (its device is then announced again). */
  private learnKind(s: MachineState): boolean {
    const t = this.tracked.get(s.machineId);
    if (t === undefined || t.kind === s.kind) return false;
    t.kind = s.kind;
    return true;
  }

  private announceMachine(t: Tracked): void {
    if (t.kind === null) return;
    for (const c of machineConfigs(this.naming, { ...t.machine, kind: t.kind })) this.announce(c);
  }

  /** Publishes one config after checking it against Home Assistant's documented schema. */
  private announce(c: DiscoveryConfig): boolean {
    const r = c.component === 'sensor' ? haSensorConfigSchema.safeParse(c.payload) : haBinarySensorConfigSchema.safeParse(c.payload);
    if (!r.success) {
      this.log.error({ uniqueId: c.uniqueId, err: r.error.issues[0]?.message }, 'home assistant config does not match the documented schema; not published');
      return false;
    }
    if (!this.publisher.has(c.topic)) this.announced++;
    this.publisher.set(c.topic, JSON.stringify(c.payload));
    return true;
  }

  private publishCounts(): void {
    const counts = roomCounts([...this.tracked.values()].map((t) => ({ kind: t.kind, status: t.status })));
    for (const [k, v] of Object.entries(counts) as [keyof typeof counts, string][]) this.publisher.set(this.naming.roomStateTopic(k), v);
  }

  private saveFile(): void {
    this.file.save([...this.configured, ...this.removing]);
  }
}
