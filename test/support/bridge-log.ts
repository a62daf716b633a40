/**
 * What tests read in a bridge process's log. One place, so a changed log
 * line breaks one definition instead of every test that starts the CLI.
 */

/** The bridge logs this once its MQTT side is up (external broker, or the embedded one in-process). */
const CONNECTED = 'connected to MQTT broker';

/** Whether the bridge whose stderr is `log` has connected to its MQTT broker. */
export function bridgeConnected(log: string): boolean {
  return log.includes(CONNECTED);
}
