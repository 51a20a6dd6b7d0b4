#!/usr/bin/env node
// Builds the real server images the demo, the tests and the benchmarks use, offline, from Debian packages:
// mmdebstrap makes a root filesystem from this machine's apt sources (containers never reach the network),
// and this script turns it into a one-layer image with a proper config (CMD, ENV, USER, VOLUME, EXPOSE,
// STOPSIGNAL), written as an OCI image layout that `skopeo copy oci:DIR:TAG docker://…` pushes to a registry.
//
// Usage: node scripts/make-server-images.mjs [--print] [NAME...]      (as root; NAME: nginx redis postgres python)
// Output, per image, cached under .fixtures/images/ and keyed by the packages' candidate versions and this file:
//   .fixtures/images/NAME-KEY/rootfs.tar   the layer, uncompressed (what `gantry import` takes)
//   .fixtures/images/NAME-KEY/oci/         an OCI image layout, tag = the image's tag (e.g. 1.22), gzip layer
//   .fixtures/images/NAME-KEY/image.json   { name, tag, config } (the config in Docker's container-config shape)
// A build is written under a temporary directory and renamed, so an interrupted build leaves nothing visible.
// `--print` prints one line per image: NAME TAG DIR.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(root, '.fixtures', 'images');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PG_MAJOR = '15';

// The postgres entrypoint (written into the image): makes a cluster at first start, as the official image does,
// from POSTGRES_PASSWORD / POSTGRES_USER / POSTGRES_DB / POSTGRES_HOST_AUTH_METHOD, then runs the command.
const postgresEntrypoint = `#!/bin/sh
set -eu
: "\${PGDATA:=/var/lib/postgresql/data}"
if [ "\${1:-postgres}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user="\${POSTGRES_USER:-postgres}"
  method="\${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "\${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
    echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\\n' "\${POSTGRES_PASSWORD:-}" > "$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$method" -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  printf "listen_addresses = '*'\\n" >> "$PGDATA/postgresql.conf"
  printf 'host all all all %s\\n' "$method" >> "$PGDATA/pg_hba.conf"
  if [ -n "\${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != postgres ]; then
    postgres --single -D "$PGDATA" -c listen_addresses= postgres >/dev/null <<EOF
CREATE DATABASE "$POSTGRES_DB" OWNER "$user";
EOF
  fi
  echo "postgres: cluster made in $PGDATA"
fi
exec "$@"
`;

/** @type {Record<string, {tag: string, packages: string[], hooks: string[], skip?: string[], config: Record<string, unknown>}>} */
const images = {
  nginx: {
    tag: '1.22',
    packages: ['nginx-light'],
    // Logs go to the container's output, as in the official image.
    hooks: ['ln -sf /dev/stdout "$1/var/log/nginx/access.log"', 'ln -sf /dev/stderr "$1/var/log/nginx/error.log"'],
    config: { Env: [`PATH=${PATH}`], Cmd: ['nginx', '-g', 'daemon off;'], ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGQUIT' },
  },
  redis: {
    tag: '7.0',
    packages: ['redis-server'],
    hooks: ['mkdir -p "$1/data"', 'chroot "$1" chown redis:redis /data'],
    config: {
      Env: [`PATH=${PATH}`], User: 'redis', WorkingDir: '/data', Volumes: { '/data': {} }, ExposedPorts: { '6379/tcp': {} },
      Cmd: ['redis-server', '--protected-mode', 'no', '--dir', '/data'],
    },
  },
  postgres: {
    tag: PG_MAJOR,
    packages: ['postgresql'],
    skip: ['cleanup/run'],
    hooks: [
      // Debian's package makes a cluster at install; the image makes its own at first start instead.
      `rm -rf "$1/var/lib/postgresql/${PG_MAJOR}" "$1/etc/postgresql/${PG_MAJOR}"`,
      'mkdir -p "$1/var/lib/postgresql/data" "$1/run/postgresql"',
      'chroot "$1" chown postgres:postgres /var/lib/postgresql/data /run/postgresql',
      'chmod 0700 "$1/var/lib/postgresql/data"; chmod 2775 "$1/run/postgresql"',
      'mkdir -p "$1/usr/local/bin" && cat > "$1/usr/local/bin/docker-entrypoint.sh" <<\'GANTRY_EOF\'\n' + postgresEntrypoint + 'GANTRY_EOF',
      'chmod 0755 "$1/usr/local/bin/docker-entrypoint.sh"',
    ],
    config: {
      Env: [`PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:${PATH}`, 'PGDATA=/var/lib/postgresql/data', 'LANG=C.UTF-8'],
      User: 'postgres', Volumes: { '/var/lib/postgresql/data': {} }, ExposedPorts: { '5432/tcp': {} },
      Entrypoint: ['docker-entrypoint.sh'], Cmd: ['postgres'], StopSignal: 'SIGINT',
    },
  },
  python: {
    tag: '3.11',
    packages: ['python3', 'python3-psycopg2'],
    hooks: [],
    config: { Env: [`PATH=${PATH}`, 'LANG=C.UTF-8', 'PYTHONUNBUFFERED=1'], Cmd: ['python3'] },
  },
};

function candidateVersion(pkg) {
  const r = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  const m = /Candidate:\s*(\S+)/.exec(r.stdout ?? '');
  return m && m[1] !== '(none)' ? m[1] : 'unknown';
}

function cacheKey(name) {
  const def = images[name];
  const h = createHash('sha256');
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  for (const p of def.packages) h.update(`${p}=${candidateVersion(p)}\n`);
  return h.digest('hex').slice(0, 12);
}

async function sha256File(path) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk);
  return h.digest('hex');
}

function writeBlob(layout, bytes) {
  const digest = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(layout, 'blobs', 'sha256', digest), bytes);
  return { digest: `sha256:${digest}`, size: bytes.length };
}

async function build(name, dir) {
  const def = images[name];
  const tmp = `${dir}.tmp.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'oci', 'blobs', 'sha256'), { recursive: true });
  try {
    const suite = /VERSION_CODENAME=(\S+)/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'bookworm';
    const rootfs = join(tmp, 'rootfs.tar');
    const args = ['--quiet', '--variant=apt', `--include=${def.packages.join(',')}`,
      '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/locale/*', '--dpkgopt=path-exclude=/usr/share/info/*',
      ...(def.skip ?? []).map((s) => `--skip=${s}`),
      ...def.hooks.map((hook) => `--customize-hook=${hook}`),
      '--format=tar', suite, rootfs];
    const started = Date.now();
    const r = spawnSync('mmdebstrap', args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`mmdebstrap failed for ${name} (exit ${r.status ?? r.signal})`);

    const layout = join(tmp, 'oci');
    const diffId = `sha256:${await sha256File(rootfs)}`;
    const gz = join(layout, 'blobs', 'sha256', 'layer.tmp');
    await pipeline(createReadStream(rootfs), createGzip({ level: 3 }), createWriteStream(gz));
    const layerDigest = await sha256File(gz);
    renameSync(gz, join(layout, 'blobs', 'sha256', layerDigest));
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layerDigest}`, size: statSync(join(layout, 'blobs', 'sha256', layerDigest)).size };

    const created = new Date().toISOString();
    const imageConfig = {
      created, architecture: 'amd64', os: 'linux', config: def.config,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: `mmdebstrap --variant=apt --include=${def.packages.join(',')} (gantry scripts/make-server-images.mjs)` }],
    };
    const config = { mediaType: 'application/vnd.oci.image.config.v1+json', ...writeBlob(layout, Buffer.from(JSON.stringify(imageConfig))) };
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] };
    const manifestDesc = { mediaType: manifest.mediaType, ...writeBlob(layout, Buffer.from(JSON.stringify(manifest))) };
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': def.tag } }],
    }));
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(tmp, 'image.json'), JSON.stringify({ name, tag: def.tag, config: def.config }, null, 2));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    const mb = (statSync(join(dir, 'rootfs.tar')).size / 1048576).toFixed(0);
    console.error(`built ${name}:${def.tag} in ${((Date.now() - started) / 1000).toFixed(1)} s (${mb} MB) → ${dir}`);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

const argv = process.argv.slice(2);
const print = argv.includes('--print');
const names = argv.filter((a) => a !== '--print');
for (const n of names) if (!images[n]) { console.error(`error: unknown image "${n}" (known: ${Object.keys(images).join(', ')})`); process.exit(2); }
mkdirSync(cacheDir, { recursive: true });
for (const name of names.length ? names : Object.keys(images)) {
  const dir = join(cacheDir, `${name}-${cacheKey(name)}`);
  if (!existsSync(join(dir, 'image.json'))) {
    // Older builds of the same image are dropped: one cached build per image.
    for (const e of readdirSync(cacheDir)) if (e.startsWith(`${name}-`) && join(cacheDir, e) !== dir) rmSync(join(cacheDir, e), { recursive: true, force: true });
    await build(name, dir);
  }
  if (print) console.log(`${name} ${images[name].tag} ${dir}`);
}
