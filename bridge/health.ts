/**
 * The bridge's health in one place, for /health (HTTP 200 or 503) and the
 * `health` bridge request alike: healthy while the bridge is connected to
 * its broker and every chip has a guest whose driver is bound.
 */
import type { Chip } from './chip/chip.ts';

export interface ChipHealth {
  online: boolean;
  peers: number[];
  host_gen: number;
  guest_gen: number;
}

export interface HealthReport {
  healthy: boolean;
  uptime_s: number;
  mqtt_connected: boolean;
  chips: Record<string, ChipHealth>;
}

const startedAt = Date.now();

export function healthReport(mqttConnected: boolean, chips: Iterable<Chip>): HealthReport {
  const report: Record<string, ChipHealth> = {};
  let allOnline = true;
  for (const chip of chips) {
    report[chip.config.name] = { online: chip.online, peers: chip.peers, host_gen: chip.region.hostGen, guest_gen: chip.region.guestGen };
    allOnline &&= chip.online;
  }
  return {
    healthy: mqttConnected && allOnline,
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
    mqtt_connected: mqttConnected,
    chips: report,
  };
}
