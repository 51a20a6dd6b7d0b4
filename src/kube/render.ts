// The converted objects as YAML: one document per object, in convert's order, keys in the order they were made
// (the project's own emitter: no library default can reorder them), so golden files are stable.

import { toYaml } from '../stack/yaml-out.js';
import type { KubeObject } from './types.js';

export function renderObject(o: KubeObject): string {
  return toYaml(o);
}

/** A multi-document stream ("---" before each document). */
export function renderStream(objects: readonly KubeObject[]): string {
  return objects.map((o) => `---\n${renderObject(o)}`).join('');
}

/** The file each object is written to by `-o DIR`: `NN-kind-name.yaml`, numbered in apply order. */
export function fileNames(objects: readonly KubeObject[]): string[] {
  const width = String(objects.length).length;
  return objects.map((o, i) => `${String(i + 1).padStart(width, '0')}-${o.kind.toLowerCase()}-${o.metadata.name}.yaml`);
}
