/**
 * With `homeassistant.enabled` off: clears every discovery config this
 * bridge retained before (device configs, and per-entity ones of earlier
 * versions), read back from the broker (homeassistant/retained.ts), so
 * Home Assistant removes the devices and entities instead of showing them
 * unavailable for ever.
 */
import { discoveryFilters, ownedConfig } from './retained.ts';
import { Extension } from '../extension.ts';

export class HomeAssistantCleanup extends Extension {
  start(): void {
    const { settings, log, topics } = this.ctx;
    const prefix = settings.homeassistant.discoveryPrefix;
    for (const filter of discoveryFilters(prefix)) {
      this.subscribe(filter, (topic, payload) => {
        if (payload.length === 0 || ownedConfig(prefix, topic, payload, topics) === undefined) return;
        log.info(`Home Assistant discovery is off: clearing ${topic}`);
        this.ctx.publish(topic, '', true);
      });
    }
  }

  // connected(): nothing to announce, the subscriptions replay what is left to clear on every (re)connect.
}
