// Identifiers: 64-hex ids like Docker, 12-char short ids, and generated container names.
import { randomBytes } from 'node:crypto';

export function newId(): string {
  return randomBytes(32).toString('hex');
}

export function shortId(id: string): string {
  return id.slice(0, 12);
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'nifty', 'proud', 'quiet',
  'sharp', 'swift', 'tender', 'vivid', 'witty', 'zealous', 'bold', 'clever', 'gentle', 'jolly'];
const NOUNS = ['otter', 'falcon', 'maple', 'comet', 'harbor', 'lynx', 'cedar', 'meadow', 'pebble', 'quartz',
  'raven', 'summit', 'tundra', 'willow', 'ember', 'fjord', 'glacier', 'heron', 'isle', 'juniper'];

/** A readable random name, e.g. `keen_falcon3`. The caller retries on collision. */
export function randomName(): string {
  const b = randomBytes(3);
  return `${ADJECTIVES[b[0]! % ADJECTIVES.length]}_${NOUNS[b[1]! % NOUNS.length]}${b[2]! % 100}`;
}

/** Container names: what Docker accepts, `[a-zA-Z0-9][a-zA-Z0-9_.-]+`. */
export const CONTAINER_NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
