// Docker's prunes and `system df`, over the engine's parts. What a prune reclaims is measured, not estimated: the
// disk usage of what it removes (a container's dir, a volume's dir, the image store's blobs and layers before and
// after), so `SpaceReclaimed` is what the disk got back.
import { join } from 'node:path';
import type { ContainerView } from '../containers/record.js';
import { isActive } from '../containers/record.js';
import type { VolumeView } from '../engine.js';
import type { ImageStore } from '../images/store.js';
import { diskUsage } from './disk-usage.js';
import { matchesPrune, parsePruneFilters } from './filters.js';

export interface PruneDeps {
  containers: () => readonly ContainerView[];
  containerDir: (id: string) => string;
  removeContainer: (id: string) => Promise<void>;
  images: ImageStore;
  volumes: VolumeView;
  volumeUsers: (name: string) => string[];
  removeVolume: (name: string) => void;
}

export interface ContainersPruneReport { ContainersDeleted: string[] | null; SpaceReclaimed: number }
export interface ImagesPruneReport { ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }> | null; SpaceReclaimed: number }
export interface VolumesPruneReport { VolumesDeleted: string[] | null; SpaceReclaimed: number }

export async function pruneContainers(d: PruneDeps, filters: Record<string, string[]>): Promise<ContainersPruneReport> {
  const f = parsePruneFilters(filters, ['until', 'label', 'label!']);
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const rec of d.containers()) {
    if (isActive(rec.state.status) || !matchesPrune(f, Date.parse(rec.created), rec.config.labels)) continue;
    const size = await diskUsage(d.containerDir(rec.id));
    await d.removeContainer(rec.id);
    deleted.push(rec.id);
    reclaimed += size;
  }
  return { ContainersDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
}

function storeUsage(images: ImageStore): Promise<number> {
  return Promise.all([diskUsage(join(images.root, 'blobs')), diskUsage(join(images.root, 'layers'))]).then(([a, b]) => a + b);
}

/** Dangling images (no tag) no container uses; with `dangling=false` (`-a`), every image no container uses. */
export async function pruneImages(d: PruneDeps, filters: Record<string, string[]>): Promise<ImagesPruneReport> {
  const f = parsePruneFilters(filters, ['until', 'label', 'label!', 'dangling']);
  const danglingOnly = !(filters['dangling'] ?? []).some((v) => v === 'false' || v === '0');
  const used = new Set(d.containers().map((c) => c.config.imageId));
  const before = await storeUsage(d.images);
  const results: Array<{ Untagged?: string; Deleted?: string }> = [];
  for (const info of d.images.list()) {
    if (used.has(info.Id) || (danglingOnly && (info.RepoTags ?? []).length > 0)) continue;
    if (!matchesPrune(f, info.Created * 1000, info.Labels ?? {})) continue;
    results.push(...await d.images.remove(info.Id, { force: true, isInUse: () => false }));
  }
  const after = await storeUsage(d.images);
  return { ImagesDeleted: results.length > 0 ? results : null, SpaceReclaimed: Math.max(0, before - after) };
}

/** Unused anonymous volumes; with `all=true`, unused named ones too (Docker ≥ 23). */
export async function pruneVolumes(d: PruneDeps, filters: Record<string, string[]>): Promise<VolumesPruneReport> {
  const f = parsePruneFilters(filters, ['label', 'label!', 'all']);
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const v of d.volumes.list()) {
    if ((!v.anonymous && !f.all) || d.volumeUsers(v.name).length > 0 || !matchesPrune(f, 0, v.labels)) continue;
    const size = await diskUsage(d.volumes.dataDir(v.name));
    d.removeVolume(v.name);
    deleted.push(v.name);
    reclaimed += size;
  }
  return { VolumesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
}

export interface ContainerSize { SizeRw: number; SizeRootFs: number }

/** Docker's container sizes: SizeRw = the disk usage of its upper dir, SizeRootFs = that plus its image's size. */
export async function containerSize(d: PruneDeps, c: ContainerView): Promise<ContainerSize> {
  const rw = await diskUsage(join(d.containerDir(c.id), 'upper'));
  return { SizeRw: rw, SizeRootFs: rw + (d.images.resolve(c.config.imageId)?.size ?? 0) };
}

/** `GET /system/df` in Docker's shape (sizes: images by content, containers and volumes by disk usage). */
export async function systemDf(d: PruneDeps): Promise<Record<string, unknown>> {
  const containers = d.containers();
  const images = d.images.list();
  const layerUsers = new Map<string, number>();
  const records = images.map((i) => d.images.get(i.Id));
  for (const r of records) for (const l of r.layers) layerUsers.set(l.chainId, (layerUsers.get(l.chainId) ?? 0) + 1);
  const layersSize = [...new Set(records.flatMap((r) => r.layers))].reduce((s, l) => s + l.size, 0);
  const imageRows = records.map((r, i) => ({
    ...images[i],
    Containers: containers.filter((c) => c.config.imageId === r.id).length,
    SharedSize: r.layers.filter((l) => (layerUsers.get(l.chainId) ?? 0) > 1).reduce((s, l) => s + l.size, 0),
  }));
  const containerRows = await Promise.all(containers.map(async (c) => ({
    Id: c.id, Names: [`/${c.name}`], Image: c.config.image, ImageID: c.config.imageId,
    Command: [...c.config.entrypoint, ...c.config.cmd].join(' '), Created: Math.floor(Date.parse(c.created) / 1000),
    State: c.state.status, Status: c.state.status, Labels: { ...c.config.labels },
    ...await containerSize(d, c),
  })));
  const volumeRows = await Promise.all(d.volumes.list().map(async (v) => ({
    ...d.volumes.inspect(v.name),
    UsageData: { Size: await diskUsage(d.volumes.dataDir(v.name)), RefCount: d.volumeUsers(v.name).length },
  })));
  return { LayersSize: layersSize, Images: imageRows, Containers: containerRows, Volumes: volumeRows, BuildCache: [] };
}
