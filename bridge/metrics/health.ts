/**
 * The bridge's health in one place, for /health (HTTP 200 or 503) and the
 * `health` bridge request alike: healthy while the bridge is connected to
 * its broker and every chip has a guest whose driver is bound.
 */
import type { Chip } from '../chip/chip.ts';

export interface ChipHealth {
  online: boolean;
  peers: number[];
  /** Absent when the chip failed (its shared memory cannot be read safely); `failure` says why. */
  host_gen?: number;
  guest_gen?: number;
  failure?: string;
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
    const state = chip.failure === undefined ? { host_gen: chip.region.hostGen, guest_gen: chip.region.guestGen } : { failure: chip.failure };
    report[chip.config.name] = { online: chip.online, peers: chip.peers, ...state };
    allOnline &&= chip.online;
  }
  return {
    healthy: mqttConnected && allOnline,
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
    mqtt_connected: mqttConnected,
    chips: report,
  };
}
