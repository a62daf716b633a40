/**
 * MQTT topic-filter coverage, for per-user authorization: does an allowed
 * filter cover a topic someone publishes to, or a filter someone
 * subscribes with? A topic is a filter without wildcards, so one rule
 * serves both: `#` covers every remaining level (including none), `+`
 * covers exactly one level (a requested `+` too, but not a requested `#`),
 * any other level must be equal.
 */
export function filterCovers(allowed: string, requested: string): boolean {
  return levelsCover(allowed.split('/'), requested.split('/'));
}

/**
 * filterCovers on levels already split at `/`: a router that splits each
 * filter once and each incoming topic once, instead of both per pair
 * (splitting per pair was 9% of the bridge's time under a command flood).
 */
export function levelsCover(want: readonly string[], have: readonly string[]): boolean {
  for (let i = 0; i < want.length; i++) {
    const level = want[i];
    if (level === '#') return true;
    const got = have[i];
    if (got === undefined) return false;
    if (level === '+') {
      if (got === '#') return false;
      continue;
    }
    if (level !== got) return false;
  }
  return want.length === have.length;
}

/** True when a topic name or filter is syntactically valid MQTT (3.1.1 §4.7). */
export function isValidFilter(filter: string): boolean {
  if (filter === '' || filter.includes('\0')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '#') return i === levels.length - 1;
    return level === '+' || (!level.includes('+') && !level.includes('#'));
  });
}
