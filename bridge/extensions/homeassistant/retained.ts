/**
 * Which retained discovery configs on the broker this bridge announced.
 * The bridge keeps no record of its own: the broker is the one place that
 * knows what is retained, whatever configuration, version or host
 * announced it, so the bridge reads the configs back (subscribing to the
 * discovery filters below) and recognises its own:
 * - per-entity configs of earlier versions (`<prefix>/<component>/<node>/<object>/config`):
 *   origin `vgpio2mqtt`, and the state or first availability topic is this
 *   bridge's `<base>/bridge/state` (the exact base topic);
 * - device configs (`<prefix>/device/<id>/config`): origin `vgpio2mqtt`, and
 *   the device is this bridge's or has it as `via_device` (the bridge's id
 *   holds the base topic injectively, homeassistant/ids.ts).
 */
import type { Topics } from '../../mqtt/topics.ts';
import { bridgeId } from './ids.ts';
import { ORIGIN_NAME, type Json } from './payloads.ts';

/** The subscriptions that replay every retained discovery config, per-entity and device-based. */
export function discoveryFilters(prefix: string): string[] {
  return [`${prefix}/+/+/+/config`, `${prefix}/device/+/config`];
}

export type Owned =
  | { kind: 'entity' }
  /** `platforms`: the platform of each component key, to remove the ones that are gone. */
  | { kind: 'device'; platforms: Record<string, string> };

function parse(payload: Buffer): Json | undefined {
  try {
    const data: unknown = JSON.parse(payload.toString('utf8'));
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Json) : undefined;
  } catch {
    return undefined;
  }
}

function object(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

/** What a retained config on `topic` is, when this bridge (on `topics`) announced it; undefined otherwise. */
export function ownedConfig(prefix: string, topic: string, payload: Buffer, topics: Topics): Owned | undefined {
  const data = parse(payload);
  if (data === undefined) return undefined;
  const levels = topic.slice(prefix.length + 1).split('/');
  if (levels.length === 3 && levels[0] === 'device') {
    if (object(data.o ?? data.origin).name !== ORIGIN_NAME) return undefined;
    const dev = object(data.dev ?? data.device);
    const ids: unknown = dev.identifiers ?? dev.ids;
    const own = bridgeId(topics.base);
    if (!(Array.isArray(ids) && ids[0] === own) && dev.via_device !== own) return undefined;
    const platforms: Record<string, string> = {};
    for (const [key, component] of Object.entries(object(data.cmps ?? data.components))) {
      const platform = object(component).p ?? object(component).platform;
      if (typeof platform === 'string') platforms[key] = platform;
    }
    return { kind: 'device', platforms };
  }
  if (levels.length !== 4) return undefined;
  if (object(data.origin ?? data.o).name !== ORIGIN_NAME) return undefined;
  const availability = data.availability;
  const first = Array.isArray(availability) ? object(availability[0]).topic : undefined;
  return data.state_topic === topics.bridgeState || first === topics.bridgeState ? { kind: 'entity' } : undefined;
}
