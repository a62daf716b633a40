/**
 * Aedes publishes a message for each client that connects, leaves,
 * subscribes or unsubscribes: `$SYS/<broker id>/new/clients`,
 * `.../disconnect/clients` (the client's id as payload), `.../new/subscribes`
 * and `.../new/unsubscribes` (its id and topic filters). They are the
 * plumbing of Aedes clusters (brokers sharing one emitter close a client
 * that connected to another one under the same id); this broker is alone
 * and takes a client id over in its own registerClient. Otherwise they only
 * tell every subscriber of `$SYS/#` the id and filters of every client, and
 * they cost each connection a trip through the broker's router before its
 * CONNACK and another at its close (a one-shot client pays both). Mosquitto
 * publishes no such per-client messages. Aedes has no option for them, so
 * its own publications on these topics are dropped at its publish(); every
 * other one, its heartbeat included, passes unchanged.
 */
import type { Aedes } from 'aedes';

export function withoutClientAnnouncements(aedes: Aedes): void {
  const announcements = new Set(['new/clients', 'disconnect/clients', 'new/subscribes', 'new/unsubscribes'].map((what) => `$SYS/${aedes.id}/${what}`));
  // Aedes types publish() without the client it passes for a client's publications; those are never dropped.
  const publish = aedes.publish.bind(aedes) as (packet: unknown, client: unknown, done?: unknown) => void;
  aedes.publish = (packet: { topic: string }, client: unknown, done?: unknown): void => {
    // The broker's own publications come with no client: the callback is the second argument.
    if (typeof client === 'function' && announcements.has(packet.topic)) {
      (client as () => void)();
      return;
    }
    publish(packet, client, done);
  };
}
