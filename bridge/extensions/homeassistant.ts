/**
 * Home Assistant MQTT discovery (DESIGN §4): a `switch` per host-driven
 * input, a `binary_sensor` per guest-driven output, an `event` entity per
 * line for its edges, all for the lines the configuration names; one
 * device per chip with `via_device` the bridge (itself a device with a
 * connectivity sensor); availability = bridge state AND chip availability;
 * an origin block. Retained; re-announced when Home Assistant says
 * `online`; entities this bridge announced earlier that no longer exist are
 * removed with an empty retained config.
 */
import type { ChipConfig, LineConfig } from '../config/types.ts';
import type { Topics } from '../mqtt/topics.ts';
import type { Extension, ExtensionContext } from './extension.ts';
import { bridgeId as bridgeIdOf, chipId } from '../homeassistant/ids.ts';

type Json = Record<string, unknown>;

export interface Discovery {
  topic: string;
  payload: Json;
}


export interface DiscoveryInput {
  prefix: string;
  topics: Topics;
  version: string;
  chips: readonly ChipConfig[];
}

/** Everything this bridge announces, for a configuration. */
export function discoveryMessages({ prefix, topics, version, chips }: DiscoveryInput): Discovery[] {
  const bridgeId = bridgeIdOf(topics.base);
  const origin = { name: 'vgpio2mqtt', sw_version: version };
  const bridgeDevice = { identifiers: [bridgeId], name: `vgpio2mqtt bridge (${topics.base})`, model: 'vgpio2mqtt bridge', sw_version: version };
  const bridgeAvailability = { topic: topics.bridgeState, value_template: '{{ value_json.state }}' };
  const out: Discovery[] = [
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
        device: bridgeDevice,
        origin,
      },
    },
  ];
  for (const chip of chips) {
    const node = chipId(topics.base, chip.name);
    const device = { identifiers: [node], name: chip.label, model: `vgpio ${chip.mode}-mode chip, ${chip.ngpio} lines`, via_device: bridgeId, sw_version: version };
    const availability = [bridgeAvailability, { topic: topics.availability(chip.name) }];
    const common = (line: LineConfig, kind: string): Json => ({
      unique_id: `${node}_line${line.line}_${kind}`,
      availability,
      availability_mode: 'all',
      device,
      origin,
    });
    for (const line of chip.lines.filter((l) => l.configured)) {
      const objectId = `line${line.line}`;
      if (line.direction === 'input') {
        out.push({
          topic: `${prefix}/switch/${node}/${objectId}/config`,
          payload: {
            name: line.name,
            state_topic: topics.state(chip.name, line.name),
            command_topic: topics.set(chip.name, line.name),
            payload_on: line.payloadOn,
            payload_off: line.payloadOff,
            state_on: line.payloadOn,
            state_off: line.payloadOff,
            ...common(line, 'switch'),
          },
        });
      } else {
        out.push({
          topic: `${prefix}/binary_sensor/${node}/${objectId}/config`,
          payload: {
            name: line.name,
            state_topic: topics.state(chip.name, line.name),
            payload_on: line.payloadOn,
            payload_off: line.payloadOff,
            ...common(line, 'binary_sensor'),
          },
        });
      }
      out.push({
        topic: `${prefix}/event/${node}/${objectId}_edge/config`,
        payload: {
          name: `${line.name} edge`,
          state_topic: topics.edge(chip.name, line.name),
          event_types: ['rising', 'falling'],
          value_template: '{{ {"event_type": value_json.edge, "source": value_json.source, "seq": value_json.seq} | to_json }}',
          ...common(line, 'edge'),
        },
      });
    }
  }
  return out;
}

/** True when a retained discovery config was announced by the bridge on `topics` (this base topic). */
export function announcedBy(payload: Buffer, topics: Topics): boolean {
  try {
    const data = JSON.parse(payload.toString('utf8')) as Json;
    const origin = data.origin as Json | undefined;
    if (origin?.name !== 'vgpio2mqtt') return false;
    const state = data.state_topic;
    const availability = data.availability as Json[] | undefined;
    return state === topics.bridgeState || (Array.isArray(availability) && availability[0]?.topic === topics.bridgeState);
  } catch {
    return false;
  }
}

export class HomeAssistant implements Extension {
  readonly #ctx: ExtensionContext;
  readonly #messages: Discovery[];
  readonly #current: Set<string>;

  constructor(ctx: ExtensionContext) {
    this.#ctx = ctx;
    this.#messages = discoveryMessages({
      prefix: ctx.settings.homeassistant.discoveryPrefix,
      topics: ctx.topics,
      version: ctx.version,
      chips: ctx.settings.chips,
    });
    this.#current = new Set(this.#messages.map((m) => m.topic));
  }

  start(): void {
    const { settings, mqtt, log } = this.#ctx;
    mqtt.subscribe(settings.homeassistant.statusTopic, (_topic, payload) => {
      if (payload.toString('utf8').trim() === 'online') {
        log.info('Home Assistant came online: announcing discovery again');
        this.#announce();
      }
    });
    // Retained configs of earlier runs arrive here; those we no longer announce are removed.
    mqtt.subscribe(`${settings.homeassistant.discoveryPrefix}/+/+/+/config`, (topic, payload) => {
      if (payload.length === 0 || this.#current.has(topic) || !announcedBy(payload, this.#ctx.topics)) return;
      log.info(`removing stale Home Assistant entity ${topic}`);
      this.#ctx.publish(topic, '', true);
    });
  }

  connected(): void {
    this.#announce();
  }

  stop(): void {
    // Discovery stays retained: entities show unavailable while the bridge is away.
  }

  #announce(): void {
    for (const { topic, payload } of this.#messages) this.#ctx.publish(topic, JSON.stringify(payload), true);
  }
}
