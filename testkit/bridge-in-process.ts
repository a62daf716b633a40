/**
 * A bridge started in this process (Controller.start, as the CLI's `start`
 * does) from a configuration written to a fresh folder under /dev/shm, with
 * a free 127.0.0.1 port for its embedded broker. What bridge, capture, web,
 * metrics and client tests start before they attach a fake guest; stop()
 * undoes all of it (the bridge, the shared memory opened through it, the
 * folder).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemory } from '../native/index.ts';
import { loadSettings } from '../bridge/settings/load.ts';
import type { Settings } from '../bridge/settings/types.ts';
import { Controller } from '../bridge/controller.ts';
import { Logger } from '../bridge/log.ts';
import { freePort } from './ports.ts';

export interface InProcessOptions {
  /** Names the folder: /dev/shm/vgpio-<name>-XXXXXX. */
  name: string;
  /** The configuration file's text; `dir` is the fresh folder (for shm and socket paths), `port` a free port for the broker. */
  config: (dir: string, port: number) => string;
  /** Default: errors only, on stderr. */
  log?: Logger;
}

export class InProcessBridge {
  readonly dir: string;
  readonly port: number;
  readonly configPath: string;
  readonly settings: Settings;
  readonly controller: Controller;
  readonly #opened: SharedMemory[] = [];

  private constructor(dir: string, port: number, configPath: string, settings: Settings, controller: Controller) {
    this.dir = dir;
    this.port = port;
    this.configPath = configPath;
    this.settings = settings;
    this.controller = controller;
  }

  static async start(options: InProcessOptions): Promise<InProcessBridge> {
    const dir = mkdtempSync(`/dev/shm/vgpio-${options.name}-`);
    try {
      const port = await freePort();
      const configPath = join(dir, 'config.yaml');
      writeFileSync(configPath, options.config(dir, port));
      const settings = loadSettings({ args: ['-c', configPath], env: {} });
      const controller = await Controller.start(settings, { log: options.log ?? new Logger('error', 'bridge') });
      return new InProcessBridge(dir, port, configPath, settings, controller);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The embedded broker's MQTT URL. */
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Opens the shared-memory file `file` in the bridge's folder (closed by stop()). */
  open(file = 'board.shm'): SharedMemory {
    const mem = SharedMemory.open(join(this.dir, file));
    this.#opened.push(mem);
    return mem;
  }

  async stop(): Promise<void> {
    await this.controller.stop();
    for (const mem of this.#opened) mem.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
