/**
 * Checks across options that no single option's format can make, run once
 * every option is read (chips and lines have their own in config/chips.ts).
 * One named function per rule: a new cross-option rule is one more entry.
 */
import { relayable } from '../agent-link/relay.ts';
import type { Problems } from './fields.ts';
import type { Settings } from './types.ts';

export type SettingsRule = (settings: Settings, problems: Problems) => void;

export const settingsRules: Record<string, SettingsRule> = {
  tlsPortNeedsCertAndKey({ broker }, problems) {
    if (broker.tlsPort !== null && (broker.tlsCert === null || broker.tlsKey === null)) {
      problems.list.push('broker.tls_port: got a port without broker.tls_cert and broker.tls_key; allowed: null, or a port with both files set');
    }
  },
  agentSocketsNeedARelayableBroker({ mqtt, chips }, problems) {
    if (mqtt.server === 'embedded' || relayable(mqtt.server)) return;
    chips.forEach((chip, index) => {
      if (chip.agentSocket !== null) {
        problems.add(`chips[${index}].agent_socket`, chip.agentSocket, `null while mqtt.server is a WebSocket URL (agent connections are relayed to mqtt://, mqtts:// or unix:// brokers, or served by the embedded one)`);
      }
    });
  },
};
