// `GET /images/{name}/history` (Docker's shape): one entry per history item of the image config, newest first.
// Items without `empty_layer` own the next layer of rootfs.diff_ids (bottom first), whose size they report. Docker
// names the top entry by the image id and the others `<missing>` (their intermediate images are not local).
import type { ImageRecord } from './store.js';

export interface ImageHistoryEntry {
  Id: string;
  /** Unix seconds. */
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export function imageHistory(image: ImageRecord): ImageHistoryEntry[] {
  const items = image.config.history ?? [];
  let layer = 0;
  const entries = items.map((h): ImageHistoryEntry => {
    const size = h.empty_layer === true ? 0 : (image.layers[layer++]?.size ?? 0);
    const created = Date.parse(h.created ?? image.created);
    return { Id: '<missing>', Created: Number.isFinite(created) ? Math.floor(created / 1000) : 0, CreatedBy: h.created_by ?? '', Tags: null, Size: size, Comment: h.comment ?? '' };
  });
  // Layers the history does not account for (an image made by a tool that wrote none): one entry each.
  for (; layer < image.layers.length; layer++) {
    entries.push({ Id: '<missing>', Created: Math.floor(Date.parse(image.created) / 1000), CreatedBy: '', Tags: null, Size: image.layers[layer]?.size ?? 0, Comment: '' });
  }
  entries.reverse();
  const top = entries[0];
  if (top !== undefined) { top.Id = image.id; top.Tags = image.repoTags.length > 0 ? [...image.repoTags] : null; }
  return entries;
}
