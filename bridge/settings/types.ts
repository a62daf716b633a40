/**
 * The checked, typed configuration the rest of the bridge uses, derived
 * from the schema (config/schema.ts) so the two cannot drift: each option
 * becomes a camelCase key (`mqtt.client_id` is `mqtt.clientId`) of its
 * format's type (config/formats.ts `FormatTypes`, or the `values` of a
 * `one-of`), with `| null` where it is `nullable`. A list item's field
 * whose default a rule computes (default null, not nullable) is never
 * null once checked.
 */
import type { BrokerUser } from '../../broker/embedded.ts';
import type { FormatName, FormatTypes } from './formats.ts';
import type { schema } from './schema.ts';

/** `client_id` to `clientId`, like camelCase() in config/schema.ts. */
type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;

type LeafValue<L> = L extends { items: infer I }
  ? Derived<I>[]
  : L extends { values: readonly (infer V)[] }
    ? V
    : L extends { format: infer F extends FormatName }
      ? FormatTypes[F]
      : never;

/** A field a rule fills in (default null, not nullable) is still null in a `Draft`. */
type Value<L, Draft> =
  | LeafValue<L>
  | (L extends { nullable: true } ? null : never)
  | (Draft extends true ? (L extends { default: null } ? null : never) : never);

/** The settings of a group of the schema; with `Draft`, as a list item is before its rules (config/chips.ts) complete it. */
export type Derived<G, Draft extends boolean = false> = {
  -readonly [K in keyof G as Camel<K & string>]: G[K] extends { format: string } ? Value<G[K], Draft> : Derived<G[K], Draft>;
};

type Options = Derived<typeof schema>;
type ChipOptions = Options['chips'][number];
type ChipFields = typeof schema.chips.items;

export type LineConfig = ChipOptions['lines'][number] & {
  /** Whether the configuration mentions this line (only those get Home Assistant entities). */
  configured: boolean;
};

export type ChipConfig = Omit<ChipOptions, 'lines'> & {
  /** The bridge's own runtime folder (config/runtime-dir.ts): created 0700 when a socket of this chip is in it. */
  runtimeDir: string;
  /** One entry per line, 0..ngpio-1. */
  lines: LineConfig[];
};

/** A chip as config/items.ts reads it, before config/chips.ts' rules fill in the computed fields and read its lines. */
export type ChipDraft = Omit<Derived<ChipFields, true>, 'lines'> & { runtimeDir: string; lines: unknown[] };
/** A line before config/chips.ts' rules complete it. */
export type LineDraft = Derived<ChipFields['lines']['items'], true> & { configured: boolean };

export type ChipMode = ChipConfig['mode'];
/** What the host expects of a line: `input` = the host drives it, `output` = the guest drives it. */
export type LineDirection = LineConfig['direction'];

export type BrokerSettings = Omit<Options['broker'], 'users'> & { users: BrokerUser[] };
export type MqttSettings = Options['mqtt'];
export type HomeAssistantSettings = Options['homeassistant'];
export type MetricsSettings = Options['metrics'];
export type WebSettings = Options['web'];

/** One end of a wire (`wires[]`), resolved by config/wires.ts. */
export interface WireEnd {
  chip: string;
  line: number;
  name: string;
  direction: LineDirection;
}

export interface WireConfig {
  from: WireEnd;
  to: WireEnd[];
  inverted: boolean;
  delayMs: number;
}

export type Settings = Omit<Options, 'broker' | 'chips' | 'wires'> & {
  broker: BrokerSettings;
  chips: ChipConfig[];
  wires: WireConfig[];
  /** The configuration file read, if any. */
  file: string | null;
};
