/**
 * The ids this bridge gives Home Assistant: device ids (also the
 * `<prefix>/device/<id>/config` topic level), entity unique_ids, and the
 * default entity ids. Discovery topic levels allow [a-zA-Z0-9_-] only.
 *
 * Unique by construction:
 * - Between bridges, the bridge's id carries its base topic injectively:
 *   a base made only of letters, digits and `-` is used as it is (so ids
 *   of the default base `vgpio2mqtt` stay what earlier versions announced);
 *   any other base is written as `_` followed by the base with `-` doubled
 *   and every other byte outside [A-Za-z0-9] as `-` and two hex digits.
 *   Neither form contains a `_` after its first character, so the first
 *   `_` after a plain base, or after `_<escaped>`, always ends it:
 *   `lab/gpio` gives `vgpio2mqtt__lab-2fgpio`, `lab_gpio` gives
 *   `vgpio2mqtt__lab-5fgpio`, `lab-gpio` gives `vgpio2mqtt_lab-gpio`.
 * - Within a bridge, chip ids use the chip name with every character
 *   outside [a-zA-Z0-9_-] replaced by `_`; the configuration loader refuses
 *   two chips that come out the same (config/chips.ts), and entities are
 *   numbered by line (`line<N>`), never named, so renaming a line keeps it.
 */

/** A name as a discovery topic level: every character outside [a-zA-Z0-9_-] becomes `_`. */
export function discoveryId(text: string): string {
  return text.replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** The base topic as an id part, injective (see above). */
export function baseKey(base: string): string {
  if (/^[A-Za-z0-9-]+$/.test(base)) return base;
  let out = '_';
  for (const byte of Buffer.from(base, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9]/.test(char)) out += char;
    else if (char === '-') out += '--';
    else out += `-${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** The bridge's own device id. */
export function bridgeId(base: string): string {
  return `vgpio2mqtt_${baseKey(base)}`;
}

/** A chip's device id (and its device discovery topic level). */
export function chipId(base: string, chip: string): string {
  return `${bridgeId(base)}_${discoveryId(chip)}`;
}

/**
 * Home Assistant's entity id rules: lower case letters, digits and single
 * `_`, neither first nor last. Empty when nothing of the text is left.
 */
export function entitySlug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

/** The object id part of a chip's entity ids (`switch.<chip>_<line>`). */
export function chipSlug(chip: string): string {
  return entitySlug(chip) || 'vgpio';
}

/** The object id part of a line's entity ids; a name without letters or digits falls back to its number. */
export function lineSlug(name: string, line: number): string {
  return entitySlug(name) || `line${line}`;
}
