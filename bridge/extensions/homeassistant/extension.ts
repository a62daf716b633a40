/**
 * Home Assistant device discovery (homeassistant/payloads.ts): announces the
 * bridge's and each chip's device config, retained, on every (re)connect and
 * when Home Assistant says `online`; and tidies what this bridge left on the
 * broker before, which it reads back (homeassistant/retained.ts):
 * - per-entity configs of earlier versions are migrated the way Home
 *   Assistant documents it: `{"migrate_discovery": true}` on each old topic,
 *   then the device configs, then the old topics cleared (an old entity
 *   whose line or chip is gone is only cleared, which removes it);
 * - device configs of chips no longer configured are cleared (Home Assistant
 *   removes the device and its entities);
 * - components a chip's device no longer has (a line removed) are announced
 *   once as `{p}` only, which removes them, before the config without them.
 *
 * Retained messages arrive shortly after subscribing, with no end marker: the
 * bridge waits until none has come for SETTLE_MS before announcing, so the
 * migration messages go out before the device configs. One arriving later,
 * or published live by someone else (an older bridge on the same base
 * topic), starts the same sequence again.
 */
import { deviceConfigs, deviceTopic, withRemovals, type DeviceConfig } from './payloads.ts';
import { discoveryFilters, ownedConfig } from './retained.ts';
import { Extension, type ExtensionContext, type OwnedTimer } from '../extension.ts';

const SETTLE_MS = 500;
const MIGRATE = JSON.stringify({ migrate_discovery: true });

export class HomeAssistant extends Extension {
  readonly #configs: DeviceConfig[];
  readonly #current: Set<string>;
  /** Per-entity configs of earlier versions read back since the last announcement. */
  readonly #entities = new Set<string>();
  /** This bridge's device configs read back since the last announcement, with their components' platforms. */
  readonly #devices = new Map<string, Record<string, string>>();
  #timer: OwnedTimer | undefined;

  constructor(ctx: ExtensionContext) {
    super(ctx);
    this.#configs = deviceConfigs({
      prefix: ctx.settings.homeassistant.discoveryPrefix,
      topics: ctx.topics,
      version: ctx.version,
      chips: ctx.settings.chips,
      supportUrl: ctx.settings.homeassistant.supportUrl,
      // The devices' "Visit" link in Home Assistant: the web view, when it is on.
      configurationUrl: ctx.web,
    });
    this.#current = new Set(this.#configs.map((c) => c.topic));
  }

  start(): void {
    const { settings, log, topics } = this.ctx;
    const prefix = settings.homeassistant.discoveryPrefix;
    this.subscribe(settings.homeassistant.statusTopic, (_topic, payload) => {
      if (payload.toString('utf8').trim() === 'online') {
        log.info('Home Assistant came online: announcing discovery again');
        this.#announce();
      }
    });
    for (const filter of discoveryFilters(prefix)) {
      this.subscribe(filter, (topic, payload, retained) => {
        // A live message on one of today's device topics is this bridge's own publication coming back.
        if (payload.length === 0 || (!retained && this.#current.has(topic))) return;
        const owned = ownedConfig(prefix, topic, payload, topics);
        if (owned === undefined) return;
        if (owned.kind === 'entity') this.#entities.add(topic);
        else this.#devices.set(topic, owned.platforms);
        this.#settle();
      });
    }
  }

  override connected(): void {
    this.#settle();
  }

  // stop() is the base's: the subscriptions and the settle timer go, and none can start again (after() does nothing
  // once stopped). Discovery stays retained: entities show unavailable while the bridge is away.

  #settle(): void {
    this.#timer?.cancel();
    this.#timer = this.after(SETTLE_MS, () => {
      this.#sync();
    });
  }

  /** Migrates, announces and clears, in the order Home Assistant's migration asks for. */
  #sync(): void {
    const { log } = this.ctx;
    const publish = (topic: string, payload: string, retain: boolean): void => {
      this.ctx.publish(topic, payload, retain);
    };
    for (const topic of this.#entities) {
      // An entity whose line or chip is gone (or changed platform) is only cleared below, which removes it; the others move into their device.
      if (!this.#succeeded(topic)) continue;
      log.info(`migrating Home Assistant entity ${topic} to device discovery`);
      publish(topic, MIGRATE, false);
    }
    for (const config of this.#configs) {
      const before = this.#devices.get(config.topic) ?? {};
      const current = config.payload.cmps as Record<string, unknown>;
      const removed = Object.fromEntries(Object.entries(before).filter(([key]) => !Object.hasOwn(current, key)));
      if (Object.keys(removed).length > 0) {
        log.info(`removing Home Assistant components ${Object.keys(removed).join(', ')} from ${config.topic}`);
        publish(config.topic, JSON.stringify(withRemovals(config, removed).payload), true);
      }
    }
    this.#announce();
    for (const topic of [...this.#entities, ...[...this.#devices.keys()].filter((t) => !this.#current.has(t))]) {
      log.info(`clearing Home Assistant discovery config ${topic}`);
      publish(topic, '', true);
    }
    this.#entities.clear();
    this.#devices.clear();
  }

  /**
   * Whether an earlier per-entity config (`<prefix>/<component>/<node>/<object>/config`) lives on as the same
   * platform in today's device `<node>` (a line whose direction changed is a different entity).
   */
  #succeeded(topic: string): boolean {
    const prefix = this.ctx.settings.homeassistant.discoveryPrefix;
    const [component = '', node = '', object = ''] = topic.slice(prefix.length + 1).split('/');
    const device = this.#configs.find((c) => c.topic === deviceTopic(prefix, node));
    const cmps = (device?.payload.cmps ?? {}) as Record<string, { p?: string }>;
    return Object.hasOwn(cmps, object) && cmps[object]?.p === component;
  }

  #announce(): void {
    for (const { topic, payload } of this.#configs) this.ctx.publish(topic, JSON.stringify(payload), true);
  }
}
