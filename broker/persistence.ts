/**
 * On-disk persistence for the embedded broker: retained messages, sessions
 * and QoS 1/2 queues in a LevelDB folder (aedes-persistence-level over
 * classic-level), so retained line states and offline clients' messages
 * survive a bridge restart.
 */
import { ClassicLevel } from 'classic-level';
import { mkdirSync } from 'node:fs';
import aedesPersistenceLevel from 'aedes-persistence-level';

export interface Persistence {
  /** The Aedes persistence instance. */
  aedes: unknown;
  close(): Promise<void>;
}

export async function openPersistence(dir: string): Promise<Persistence> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new Error(`cannot create broker persistence folder ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const db = new ClassicLevel<string, Buffer>(dir);
  try {
    await db.open();
  } catch (error) {
    const cause = (error as { cause?: { code?: string }; code?: string }).cause?.code ?? (error as { code?: string }).code;
    const hint = cause === 'LEVEL_LOCKED' ? ' (another bridge is using it)' : '';
    throw new Error(`cannot open broker persistence in ${dir}: ${cause ?? String(error)}${hint}`);
  }
  return {
    aedes: aedesPersistenceLevel(db),
    close: () => db.close(),
  };
}
