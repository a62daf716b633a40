/**
 * What this bridge announces to Home Assistant: device-based discovery
 * (Home Assistant 2024.11 and later), one retained `<prefix>/device/<id>/config`
 * for the bridge and one per chip. Each carries the device block (`dev`), the
 * origin (`o`) and its entities as components (`cmps`, each with its platform
 * `p` and a `unique_id`); a chip's components share its availability.
 *
 * The device ids and component keys are the node ids and object ids of the
 * per-entity topics earlier versions announced, and the unique_ids are
 * theirs, as Home Assistant's migration from per-entity to device discovery
 * asks: entities keep their entity ids, names and areas.
 */
import { protocol } from '../../../native/index.ts';
import type { ChipConfig, LineConfig } from '../../settings/types.ts';
import type { Topics } from '../../mqtt/topics.ts';
import { bridgeId, chipId, chipSlug, lineSlug } from './ids.ts';

export type Json = Record<string, unknown>;

export interface DeviceConfig {
  /** `<prefix>/device/<id>/config` */
  topic: string;
  payload: Json;
}

export interface DiscoveryInput {
  prefix: string;
  topics: Topics;
  /** The bridge's version: the bridge device's sw_version and the origin's. */
  version: string;
  chips: readonly ChipConfig[];
  /** The origin's support_url (homeassistant.support_url); omitted when null. */
  supportUrl: string | null;
  /** A page showing the chips, given to every device as configuration_url; omitted when null. */
  configurationUrl?: string | null;
}

export const ORIGIN_NAME = 'vgpio2mqtt';

/** The device discovery topic of a device id. */
export function deviceTopic(prefix: string, id: string): string {
  return `${prefix}/device/${id}/config`;
}

function lineComponents(chip: ChipConfig, line: LineConfig, topics: Topics, id: string): Record<string, Json> {
  const entity = `${chipSlug(chip.name)}_${lineSlug(line.name, line.line)}`;
  const state = topics.state(chip.name, line.name);
  const payloads = { payload_on: line.payloadOn, payload_off: line.payloadOff };
  const level: Json =
    line.direction === 'input'
      ? { p: 'switch', unique_id: `${id}_line${line.line}_switch`, default_entity_id: `switch.${entity}`, command_topic: topics.set(chip.name, line.name), state_on: line.payloadOn, state_off: line.payloadOff }
      : { p: 'binary_sensor', unique_id: `${id}_line${line.line}_binary_sensor`, default_entity_id: `binary_sensor.${entity}` };
  return {
    [`line${line.line}`]: { ...level, name: line.name, state_topic: state, ...payloads },
    [`line${line.line}_edge`]: {
      p: 'event',
      unique_id: `${id}_line${line.line}_edge`,
      default_entity_id: `event.${entity}_edge`,
      name: `${line.name} edge`,
      state_topic: topics.edge(chip.name, line.name),
      event_types: ['rising', 'falling'],
      value_template: '{{ {"event_type": value_json.edge, "source": value_json.source, "seq": value_json.seq} | to_json }}',
    },
  };
}

/** Every device config this bridge announces: the bridge's first, then each chip with configured lines. */
export function deviceConfigs({ prefix, topics, version, chips, supportUrl, configurationUrl = null }: DiscoveryInput): DeviceConfig[] {
  const bridge = bridgeId(topics.base);
  const origin: Json = { name: ORIGIN_NAME, sw_version: version, ...(supportUrl === null ? {} : { support_url: supportUrl }) };
  const link: Json = configurationUrl === null ? {} : { configuration_url: configurationUrl };
  const bridgeState = { topic: topics.bridgeState, value_template: '{{ value_json.state }}' };
  const out: DeviceConfig[] = [
    {
      topic: deviceTopic(prefix, bridge),
      payload: {
        dev: { identifiers: [bridge], name: `vgpio2mqtt bridge (${topics.base})`, manufacturer: 'vgpio2mqtt', model: 'vgpio2mqtt bridge', sw_version: version, ...link },
        o: origin,
        cmps: {
          connection_state: {
            p: 'binary_sensor',
            unique_id: `${bridge}_connection_state`,
            name: 'Connection state',
            device_class: 'connectivity',
            entity_category: 'diagnostic',
            state_topic: topics.bridgeState,
            value_template: '{{ value_json.state }}',
            payload_on: 'online',
            payload_off: 'offline',
          },
        },
      },
    },
  ];
  for (const chip of chips) {
    const id = chipId(topics.base, chip.name);
    const cmps: Record<string, Json> = {};
    for (const line of chip.lines.filter((l) => l.configured)) Object.assign(cmps, lineComponents(chip, line, topics, id));
    // Only configured lines get entities; a device without any would be an empty shell in Home Assistant.
    if (Object.keys(cmps).length === 0) continue;
    out.push({
      topic: deviceTopic(prefix, id),
      payload: {
        dev: {
          identifiers: [id],
          name: chip.label,
          manufacturer: 'vgpio2mqtt',
          model: `vgpio ${chip.mode}-mode chip`,
          hw_version: `shared-memory protocol ${protocol.SHM_VERSION}, ${chip.ngpio} lines`,
          via_device: bridge,
          ...link,
        },
        o: origin,
        availability: [bridgeState, { topic: topics.availability(chip.name) }],
        availability_mode: 'all',
        cmps,
      },
    });
  }
  return out;
}

/** A device config with the components it no longer has, as `{p}` only: how Home Assistant is told to remove them. */
export function withRemovals(config: DeviceConfig, removed: Readonly<Record<string, string>>): DeviceConfig {
  const cmps = { ...(config.payload.cmps as Record<string, Json>) };
  for (const [key, platform] of Object.entries(removed)) cmps[key] ??= { p: platform };
  return { topic: config.topic, payload: { ...config.payload, cmps } };
}
