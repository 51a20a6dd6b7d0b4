import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { humanStatus, inspectContainer, listEntry } from '../../../src/api/docker/container-inspect.js';
import type { ContainerState } from '../../../src/engine/containers/record.js';
import { makeRecord } from './helpers.js';

const NOW = Date.parse('2024-06-01T12:00:00.000Z');
const ago = (ms: number): string => new Date(NOW - ms).toISOString();
const rec = (state: Partial<ContainerState>) => makeRecord('f'.repeat(64), 'web', { state });

describe('humanStatus (the STATUS column of ps)', () => {
  const cases: Array<[string, Partial<ContainerState>, string]> = [
    ['created', {}, 'Created'],
    ['running for 3 minutes', { status: 'running', startedAt: ago(180_000) }, 'Up 3 minutes'],
    ['just started', { status: 'running', startedAt: ago(200) }, 'Up Less than a second'],
    ['running about an hour', { status: 'running', startedAt: ago(3_600_000) }, 'Up About an hour'],
    ['running, health starting', { status: 'running', startedAt: ago(5000), health: { status: 'starting', failingStreak: 0, log: [] } }, 'Up 5 seconds (health: starting)'],
    ['running, healthy', { status: 'running', startedAt: ago(60_000), health: { status: 'healthy', failingStreak: 0, log: [] } }, 'Up About a minute (healthy)'],
    ['running, unhealthy', { status: 'running', startedAt: ago(120_000), health: { status: 'unhealthy', failingStreak: 3, log: [] } }, 'Up 2 minutes (unhealthy)'],
    ['paused', { status: 'paused', startedAt: ago(2 * 3_600_000) }, 'Up 2 hours (Paused)'],
    ['exited 0', { status: 'exited', exitCode: 0, startedAt: ago(60_000), finishedAt: ago(2000) }, 'Exited (0) 2 seconds ago'],
    ['exited 3', { status: 'exited', exitCode: 3, finishedAt: ago(10 * 60_000) }, 'Exited (3) 10 minutes ago'],
    ['killed', { status: 'exited', exitCode: 137, finishedAt: ago(3 * 86_400_000) }, 'Exited (137) 3 days ago'],
    ['restarting', { status: 'restarting', exitCode: 1, finishedAt: ago(1000) }, 'Restarting (1) 1 second ago'],
    // docker's State.String(): "Removal In Progress" and "Dead", capitalised
    ['being removed', { status: 'removing' }, 'Removal In Progress'],
    ['dead', { status: 'dead' }, 'Dead'],
  ];
  for (const [why, state, want] of cases) {
    test(`${why}: "${want}"`, () => assert.equal(humanStatus(rec(state), NOW), want));
  }
});

describe('inspectContainer / listEntry', () => {
  const paths = { dir: '/var/lib/gantry/containers/x', logPath: '/var/lib/gantry/containers/x/log.json', volumeDir: (n: string) => `/var/lib/gantry/volumes/${n}/_data` };

  test('inspect: argv split into Path/Args, state flags, name with a slash, binds and mounts', () => {
    const r = makeRecord('a'.repeat(64), 'web', { state: { status: 'paused', pid: 77, startedAt: ago(1000) } });
    r.config.entrypoint = ['/docker-entrypoint.sh'];
    r.config.cmd = ['nginx', '-g', 'daemon off;'];
    r.host.mounts = [
      { type: 'bind', source: '/srv/www', target: '/usr/share/nginx/html', readOnly: true },
      { type: 'volume', source: 'cache', target: '/cache', readOnly: false },
      { type: 'tmpfs', source: '', target: '/run', readOnly: false, tmpfsOptions: 'size=1m' },
    ];
    r.host.portBindings = [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 }];
    const i = inspectContainer(r, paths);
    assert.equal(i.Path, '/docker-entrypoint.sh');
    assert.deepEqual(i.Args, ['nginx', '-g', 'daemon off;']);
    assert.equal(i.Name, '/web');
    assert.equal(i.State.Running, true);
    assert.equal(i.State.Paused, true);
    assert.equal(i.State.Pid, 77);
    assert.deepEqual(i.HostConfig.Binds, ['/srv/www:/usr/share/nginx/html:ro', 'cache:/cache']);
    assert.deepEqual(i.HostConfig.Tmpfs, { '/run': 'size=1m' });
    assert.deepEqual(i.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
    assert.deepEqual(i.Mounts.map((m) => [m.Type, m.Source, m.Destination, m.RW]), [
      ['bind', '/srv/www', '/usr/share/nginx/html', false], ['volume', '/var/lib/gantry/volumes/cache/_data', '/cache', true],
    ]);
    assert.equal(i.LogPath, paths.logPath);
  });

  test('HostConfig.LogConfig: json-file with {} by default (also for records written before log drivers), as given otherwise', () => {
    const r = makeRecord('c'.repeat(64), 'web');
    assert.deepEqual(inspectContainer(r, paths).HostConfig.LogConfig, { Type: 'json-file', Config: {} });
    r.host.logConfig = { type: 'json-file', config: { 'max-size': '10m', 'max-file': '3' } };
    assert.deepEqual(inspectContainer(r, paths).HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
    r.host.logConfig = { type: 'none', config: {} };
    const none = inspectContainer(r, paths);
    assert.deepEqual(none.HostConfig.LogConfig, { Type: 'none', Config: {} });
    assert.equal(none.LogPath, '', 'no log file with driver none (Docker reports an empty LogPath)');
  });

  test('list entry: names with a slash, the command line, seconds since epoch, and the human status', () => {
    const r = makeRecord('b'.repeat(64), 'db', { created: '2024-06-01T11:00:00.000Z', state: { status: 'exited', exitCode: 2, finishedAt: new Date(Date.now() - 5000).toISOString() } });
    r.config.cmd = ['postgres', '-c', 'fsync=off'];
    const e = listEntry(r, paths);
    assert.deepEqual(e.Names, ['/db']);
    assert.equal(e.Command, 'postgres -c fsync=off');
    assert.equal(e.Created, Date.parse('2024-06-01T11:00:00.000Z') / 1000);
    assert.equal(e.State, 'exited');
    assert.match(e.Status, /^Exited \(2\) \d+ seconds ago$/);
  });
});
