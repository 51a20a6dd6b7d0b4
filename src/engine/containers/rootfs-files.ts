// Reads a file as the container would see it, from its upper dir and image layers, before it runs.
import { readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

export function readContainerFile(upperDir: string, layerDirs: string[], path: string): string | undefined {
  for (const dir of [upperDir, ...layerDirs]) {
    const p = join(dir, path);
    try {
      const st = lstatSync(p);
      if (st.isCharacterDevice()) return undefined; // an overlay whiteout: deleted above this layer
      if (st.isFile()) return readFileSync(p, 'utf8');
    } catch {
      // not in this layer
    }
  }
  return undefined;
}
