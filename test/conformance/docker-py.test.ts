// Debian's python3-docker (docker-py 5) driving a private gantryd: its documented high-level calls, each as a
// small program run by /usr/bin/python3 that prints what a user would look at.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { python } from '../helpers/clients.js';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';
import { haveRegistryTools, TestRegistry } from '../helpers/registry.js';

const skip = skipReason('root', 'busybox', 'python3-docker');

describe('docker-py (python3-docker) against gantryd', { skip }, () => {
  let d: TestDaemon;
  before(async () => {
    d = new TestDaemon('dockerpy');
    d.extraEnv = { GANTRY_CONFIG: join(d.dir, 'config') };
    await d.start();
    d.importBusybox();
  });
  after(async () => { await d?.dispose(); });

  /** Runs `body` with `c = docker.from_env()` and returns its stdout lines. */
  const py = (body: string): string[] => {
    const r = python(d, `import docker, json, time\nc = docker.from_env()\n${body}`, { timeoutSeconds: 60 });
    if (r.status !== 0) throw new Error(`python exited ${r.status}\n${r.stdout}\n${r.stderr}\ndaemon log:\n${d.logText.slice(-2000)}`);
    return r.stdout.trim().split('\n');
  };

  test('ping, version (auto negotiation), info', () => {
    assert.deepEqual(py(`print(c.ping())
v = docker.from_env(version='auto').version()
print(v['ApiVersion'], v['MinAPIVersion'], v['Arch'], c.api.api_version)
print(c.info()['Architecture'])`), ['True', '1.43 1.24 amd64 1.43', 'x86_64']);
  });

  test('containers.run returns the output; a failing command raises ContainerError with its exit status; remove=True leaves none', () => {
    assert.deepEqual(py(`print(c.containers.run('busybox', ['sh', '-c', 'echo hi'], remove=True, name='pyrun'))
try:
    c.containers.run('busybox', ['sh', '-c', 'echo bad >&2; exit 3'], remove=True)
except docker.errors.ContainerError as e:
    print('ContainerError', e.exit_status, e.stderr)
print(len(c.containers.list(all=True, filters={'name': 'pyrun'})))`), ["b'hi\\n'", "ContainerError 3 b'bad\\n'", '0']);
  });

  test('a detached container: exec_run (plain and demuxed), logs, stats (one and a stream), top, attrs', () => {
    const out = py(`s = c.containers.run('busybox', ['sh', '-c', 'while :; do echo tick; sleep 0.2; done'], detach=True, labels={'suite': 'py'})
try:
    r = s.exec_run(['sh', '-c', 'echo ex; exit 2'])
    print('exec', r.exit_code, r.output)
    r = s.exec_run(['sh', '-c', 'echo a; echo b >&2'], demux=True)
    print('demux', r.output)
    print('env', s.exec_run(['sh', '-c', 'echo $X'], environment={'X': 'y'}, workdir='/tmp').output)
    time.sleep(0.5)
    print('logs', s.logs(tail=1))
    st = s.stats(stream=False)
    print('stats', st['precpu_stats']['system_cpu_usage'] > 0, st['pids_stats']['current'] >= 1)
    gen = s.stats(stream=True, decode=True)
    next(gen)
    print('stream', next(gen)['precpu_stats']['system_cpu_usage'] > 0)
    print('top', any('sleep' in ' '.join(p) or 'sh' in ' '.join(p) for p in s.top()['Processes']))
    s.reload()
    print('attrs', s.attrs['HostConfig']['LogConfig']['Type'], s.status, s.attrs['Config']['AttachStdout'])
    print('list', [x.id == s.id for x in c.containers.list(filters={'label': 'suite=py', 'ancestor': 'busybox'})])
finally:
    s.remove(force=True)`);
    assert.deepEqual(out, ["exec 2 b'ex\\n'", "demux (b'a\\n', b'b\\n')", "env b'y\\n'", "logs b'tick\\n'", 'stats True True', 'stream True', 'top True',
      'attrs json-file running False', 'list [True]']);
  });

  test('attach socket before start (as dockerpty does) gets the output', () => {
    assert.deepEqual(py(`import socket
api = c.api
ct = api.create_container('busybox', ['sh', '-c', 'echo via-socket; exit 4'], stdin_open=True)
sock = api.attach_socket(ct['Id'], params={'stdout': 1, 'stderr': 1, 'stream': 1})
api.start(ct['Id'])
data = b''
raw = sock._sock
while True:
    b = raw.recv(4096)
    if not b: break
    data += b
print(data[8:])
print(api.wait(ct['Id'])['StatusCode'])
api.remove_container(ct['Id'])`), ["b'via-socket\\n'", '4']);
  });

  test('attach(logs=True) replays what an exited container wrote; without stream it ends there', () => {
    assert.deepEqual(py(`s = c.containers.run('busybox', ['sh', '-c', 'echo first; echo second >&2'], detach=True)
s.wait()
print(s.attach(stdout=True, stderr=True, stream=False, logs=True))
s.remove()`), ["b'first\\nsecond\\n'"]);
  });

  test('events with since/until and filters, decoded, with the legacy status/id fields', () => {
    assert.deepEqual(py(`since = int(time.time()) - 1
s = c.containers.run('busybox', ['true'], detach=True, name='pyev')
s.wait()
s.remove()
events = c.events(since=since, until=int(time.time()) + 1, decode=True, filters={'container': 'pyev', 'event': ['die', 'destroy']})
print([(e['status'], e['id'] == s.id, e['from']) for e in events])`), ["[('die', True, 'busybox'), ('destroy', True, 'busybox')]"]);
  });

  test('networks, volumes and images: create, list with filters, remove', () => {
    assert.deepEqual(py(`n = c.networks.create('pynet', labels={'suite': 'py'})
print([x.name for x in c.networks.list(filters={'label': 'suite=py'})])
n.remove()
v = c.volumes.create('pyvol', labels={'suite': 'py'})
print([x.name for x in c.volumes.list(filters={'label': 'suite=py', 'dangling': True})])
v.remove()
print([i.tags for i in c.images.list(filters={'reference': 'busy*'})])
try:
    c.images.list(filters={'shape': 'round'})
except docker.errors.APIError as e:
    print(e.status_code, e.explanation)`), ["['pynet']", "['pyvol']", "[['busybox:latest']]", "400 invalid filter 'shape'"]);
  });

  test('put_archive / get_archive: a tar in, the same file out, and get_archive\'s stat', () => {
    assert.deepEqual(py(`import io, tarfile
s = c.containers.run('busybox', ['sleep', '600'], detach=True)
try:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as t:
        data = b'put by docker-py\\n'
        info = tarfile.TarInfo('py.txt'); info.size = len(data); info.mode = 0o640
        t.addfile(info, io.BytesIO(data))
    print(s.put_archive('/tmp', buf.getvalue()))
    print(s.exec_run(['cat', '/tmp/py.txt']).output)
    bits, stat = s.get_archive('/tmp/py.txt')
    raw = b''.join(bits)
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        m = t.getmember('py.txt')
        print(stat['name'], stat['size'], oct(m.mode), t.extractfile(m).read())
    try:
        s.get_archive('/no/such')
    except docker.errors.NotFound as e:
        print('NotFound', e.status_code)
finally:
    s.remove(force=True)`), ['True', "b'put by docker-py\\n'", "py.txt 17 0o640 b'put by docker-py\\n'", 'NotFound 404']);
  });

  test('prunes: containers, images (dangling), volumes (anonymous); SpaceReclaimed is a number', () => {
    const out = py(`dead = c.containers.run('busybox', ['touch', '/x'], detach=True, volumes=['/anon'])
dead.wait()
anon = dead.attrs['Mounts'][0]['Name'] if dead.attrs['Mounts'] else c.api.inspect_container(dead.id)['Mounts'][0]['Name']
img = dead.commit()
r = c.containers.prune()
print(dead.id in r['ContainersDeleted'], isinstance(r['SpaceReclaimed'], int))
r = c.images.prune(filters={'dangling': True})
print([x for x in r['ImagesDeleted'] if x.get('Deleted') == img.id] != [], isinstance(r['SpaceReclaimed'], int))
r = c.volumes.prune()
print(anon in r['VolumesDeleted'], isinstance(r['SpaceReclaimed'], int))
print(c.df()['LayersSize'] > 0)`);
    assert.deepEqual(out, ['True True', 'True True', 'True True', 'True']);
  });

  describe('registries', { skip: haveRegistryTools() }, () => {
    let reg: TestRegistry;
    let secure: TestRegistry;
    before(async () => {
      reg = await TestRegistry.start();
      secure = await TestRegistry.start({ users: { bob: 'builder' }, tls: true });
      const certs = join(d.dir, 'config', 'certs.d', secure.host);
      mkdirSync(certs, { recursive: true });
      copyFileSync(secure.ca!, join(certs, 'ca.crt'));
    });
    after(async () => { await reg?.dispose(); await secure?.dispose(); });

    test('images.push (streamed, decoded), remove, images.pull; the pulled image runs', () => {
      const out = py(`img = c.images.get('busybox')
repo = '${reg.host}/py/busybox'
img.tag(repo, 'v1')
events = list(c.images.push(repo, tag='v1', stream=True, decode=True))
print([e for e in events if 'error' in e])
print(any('Digest' in e.get('aux', {}) for e in events))
c.images.remove(repo + ':v1')
p = c.images.pull(repo, tag='v1')
print(repo + ':v1' in p.tags)
print(c.containers.run(repo + ':v1', ['echo', 'py-pulled'], remove=True))
try:
    c.images.pull('${reg.host}/py/absent', tag='x')
except docker.errors.APIError as e:
    print('APIError', e.status_code)`);
      assert.deepEqual(out, ['[]', 'True', 'True', "b'py-pulled\\n'", 'APIError 404']);
    });

    test('login (htpasswd over TLS), then push and pull with the credentials; a wrong password is refused', () => {
      const out = py(`try:
    c.login('bob', 'wrong', registry='${secure.host}')
except docker.errors.APIError as e:
    print('refused', e.status_code)
print(c.login('bob', 'builder', registry='${secure.host}')['Status'])
repo = '${secure.host}/py/busybox'
c.images.get('busybox').tag(repo, 'tls')
auth = {'username': 'bob', 'password': 'builder'}
events = list(c.images.push(repo, tag='tls', stream=True, decode=True, auth_config=auth))
print([e for e in events if 'error' in e])
c.images.remove(repo + ':tls')
print(repo + ':tls' in c.images.pull(repo, tag='tls', auth_config=auth).tags)`);
      assert.deepEqual(out, ['refused 401', 'Login Succeeded', '[]', 'True']);
    });
  });

  test('images.build from a Dockerfile object and from a path with buildargs; the image runs; a failing RUN raises BuildError', () => {
    const ctx = join(d.dir, 'py-build');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nARG WHO=nobody\nCOPY msg /msg\nRUN echo "for $WHO" >> /msg\nCMD ["cat", "/msg"]\n');
    writeFileSync(join(ctx, 'msg'), 'built by docker-py\n');
    assert.deepEqual(py(`import io
img, logs = c.images.build(fileobj=io.BytesIO(b'FROM busybox\\nCMD ["echo", "from fileobj"]\\n'), tag='pybuild:obj', rm=True)
print(c.containers.run('pybuild:obj', remove=True).decode().strip())
img, logs = c.images.build(path=${JSON.stringify(ctx)}, tag='pybuild:path', buildargs={'WHO': 'amy'}, rm=True)
print('Step 1/5' in ''.join(l.get('stream', '') for l in logs), img.tags)
print(c.containers.run('pybuild:path', remove=True).decode().strip().replace('\\n', '|'))
try:
    c.images.build(fileobj=io.BytesIO(b'FROM busybox\\nRUN exit 7\\n'), rm=True)
except docker.errors.BuildError as e:
    print('BuildError', 'exit' in str(e) or '7' in str(e))
print(len(c.containers.list(all=True)))`), ['from fileobj', "True ['pybuild:path']", 'built by docker-py|for amy', 'BuildError True', '0']);
  });
});
