/**
 * The per-entity Home Assistant discovery configs vgpio2mqtt 0.1 announced
 * (three retained configs per configured line, one for the bridge), byte
 * for byte as it built them: what a broker holds when a newer bridge first
 * starts over it, for the migration tests.
 */
import type { ChipConfig } from '../../bridge/settings/types.ts';
import type { Topics } from '../../bridge/mqtt/topics.ts';

export interface LegacyConfig {
  topic: string;
  payload: Record<string, unknown>;
}

function oldId(text: string): string {
  return text.replace(/[^a-zA-Z0-9_-]/g, '_');
}

export function legacyConfigs(prefix: string, topics: Topics, chips: readonly ChipConfig[], version = '0.1.0'): LegacyConfig[] {
  const bridgeId = `vgpio2mqtt_${oldId(topics.base)}`;
  const origin = { name: 'vgpio2mqtt', sw_version: version };
  const bridgeAvailability = { topic: topics.bridgeState, value_template: '{{ value_json.state }}' };
  const out: LegacyConfig[] = [
    {
      topic: `${prefix}/binary_sensor/${bridgeId}/connection_state/config`,
      payload: {
        name: 'Connection state',
        unique_id: `${bridgeId}_connection_state`,
        device_class: 'connectivity',
        entity_category: 'diagnostic',
        state_topic: topics.bridgeState,
        value_template: '{{ value_json.state }}',
        payload_on: 'online',
        payload_off: 'offline',
        device: { identifiers: [bridgeId], name: `vgpio2mqtt bridge (${topics.base})`, model: 'vgpio2mqtt bridge', sw_version: version },
        origin,
      },
    },
  ];
  for (const chip of chips) {
    const node = `${bridgeId}_${oldId(chip.name)}`;
    const device = { identifiers: [node], name: chip.label, model: `vgpio ${chip.mode}-mode chip, ${chip.ngpio} lines`, via_device: bridgeId, sw_version: version };
    const common = { availability: [bridgeAvailability, { topic: topics.availability(chip.name) }], availability_mode: 'all', device, origin };
    for (const line of chip.lines.filter((l) => l.configured)) {
      const kind = line.direction === 'input' ? 'switch' : 'binary_sensor';
      out.push({
        topic: `${prefix}/${kind}/${node}/line${line.line}/config`,
        payload: { name: line.name, state_topic: topics.state(chip.name, line.name), payload_on: line.payloadOn, payload_off: line.payloadOff, unique_id: `${node}_line${line.line}_${kind}`, ...common },
      });
      out.push({
        topic: `${prefix}/event/${node}/line${line.line}_edge/config`,
        payload: { name: `${line.name} edge`, state_topic: topics.edge(chip.name, line.name), event_types: ['rising', 'falling'], unique_id: `${node}_line${line.line}_edge`, ...common },
      });
    }
  }
  return out;
}
