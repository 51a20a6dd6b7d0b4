// Bytes a directory tree takes (allocated blocks, as `du` counts them; hard links once), without following links.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function diskUsage(path: string): Promise<number> {
  const seen = new Set<string>();
  const walk = async (p: string): Promise<number> => {
    const st = await lstat(p).catch(() => undefined);
    if (st === undefined) return 0;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return 0;
    seen.add(key);
    let total = st.blocks * 512;
    if (st.isDirectory()) {
      const names = await readdir(p).catch(() => [] as string[]);
      for (const n of names) total += await walk(join(p, n));
    }
    return total;
  };
  return walk(path);
}
