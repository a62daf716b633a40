/**
 * One timer for the polls of all chips: every chip polling every `ms`
 * runs on the same interval, so an idle bridge wakes up once per poll
 * period however many chips it has (a timer per chip woke it once per chip,
 * each at its own phase: 256 wake-ups a second for 256 chips at 1000 ms).
 * Node groups timers of one duration in a list, but each still fires at
 * its own time; only a shared tick makes it one wake-up.
 */

const clocks = new Map<number, { timer: NodeJS.Timeout; polls: Set<() => void> }>();

/** Runs `poll` every `ms` with every other poll of that period; returns what stops it. */
export function everyPoll(ms: number, poll: () => void): () => void {
  let clock = clocks.get(ms);
  if (clock === undefined) {
    const polls = new Set<() => void>();
    const timer = setInterval(() => {
      for (const each of polls) each();
    }, ms);
    clock = { timer, polls };
    clocks.set(ms, clock);
  }
  // Its own function, so that registering the same callback twice still needs two stops.
  const entry = (): void => {
    poll();
  };
  const { polls, timer } = clock;
  polls.add(entry);
  return () => {
    if (!polls.delete(entry) || polls.size > 0) return;
    clearInterval(timer);
    clocks.delete(ms);
  };
}

