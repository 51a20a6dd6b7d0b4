// Network modes and network housekeeping through the CLI, each against a private daemon (withDaemon): a
// container joining another's network (--network container:NAME), the host and none networks listing their
// containers, `network inspect --format`, `network ls --filter`, `network prune`, and the default bridge's
// refusal of aliases and fixed addresses. Traffic goes only to loopback and to containers made here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { eventually } from '../helpers/daemon.js';
import { withDaemon } from './networking-daemon.js';

/** Serves `text` over HTTP on ADDR:7000 (busybox httpd) in the foreground. */
const httpd = (addr: string, text: string): string[] =>
  ['busybox', 'sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p ${addr}:7000 -h /www`];

/** The body of an HTTP GET to the host's loopback. */
function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
    });
    req.on('timeout', () => req.destroy(new Error('HTTP timeout')));
    req.on('error', reject);
  });
}

interface NetworkInfo {
  Name: string;
  Driver: string;
  Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string; EndpointID: string }>;
}

describe('network modes and housekeeping through the CLI (root)', () => {
  test('--network container:NAME shares the other container\'s loopback, hostname, /etc/hosts, /etc/resolv.conf and DNS', async (t) => {
    await withDaemon(t, async ({ d, network, inspect }) => {
      network('front');
      // Listening on 127.0.0.1 only: reachable solely from inside web's network namespace.
      d.ok(['run', '-d', '--name', 'web', '--network', 'front', '--hostname', 'webhost', '--add-host', 'db.local:10.1.2.3', ...httpd('127.0.0.1', 'hello-from-web')]);
      d.ok(['run', '-d', '--name', 'side', '--network', 'container:web', 'busybox', 'sleep', '300']);

      const got = await eventually(() => {
        const out = d.ok(['exec', 'side', 'wget', '-qO-', 'http://127.0.0.1:7000/']);
        assert.equal(out.trim(), 'hello-from-web');
        return out;
      }, 10_000, 'web\'s loopback service seen from side');
      assert.equal(got.trim(), 'hello-from-web');

      for (const file of ['/etc/hosts', '/etc/resolv.conf']) {
        assert.equal(d.ok(['exec', 'side', 'cat', file]), d.ok(['exec', 'web', 'cat', file]), `${file} is web's`);
      }
      const webIp = inspect('web').NetworkSettings.Networks['front']!.IPAddress;
      assert.match(d.ok(['exec', 'side', 'cat', '/etc/hosts']), new RegExp(`${webIp.replace(/\./g, '\\.')}\\s+webhost`));
      assert.match(d.ok(['exec', 'side', 'cat', '/etc/hosts']), /10\.1\.2\.3\s+db\.local/);
      assert.equal(d.ok(['exec', 'side', 'hostname']).trim(), 'webhost');
      const paths = (name: string): string[] => {
        const [i] = JSON.parse(d.ok(['inspect', name])) as Array<{ HostsPath: string; ResolvConfPath: string; HostnamePath: string }>;
        return [i!.HostsPath, i!.ResolvConfPath, i!.HostnamePath];
      };
      assert.deepEqual(paths('side'), paths('web'), 'inspect names the files in use: web\'s');
      assert.match(d.ok(['exec', 'side', 'nslookup', 'web']), new RegExp(`Address: ${webIp.replace(/\./g, '\\.')}\\b`), 'side resolves names of web\'s network');
      assert.equal(d.ok(['exec', 'side', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), d.ok(['exec', 'web', 'ip', '-o', '-4', 'addr', 'show', 'eth0']));

      // A one-off joiner sees the same, and inspect shows no networks of its own.
      assert.equal(d.ok(['run', '--rm', '--network', 'container:web', 'busybox', 'wget', '-qO-', 'http://127.0.0.1:7000/']).trim(), 'hello-from-web');
      assert.deepEqual(inspect('side').NetworkSettings.Networks, {});

      const connect = d.gantry(['network', 'connect', 'front', 'side']);
      assert.notEqual(connect.status, 0);
      assert.match(connect.stderr, /side uses network mode container:web and cannot join other networks/);
    });
  });

  test('--network container:NAME of a container that is not running is refused, naming it; own DNS, hosts or ports conflict', async (t) => {
    await withDaemon(t, async ({ d }) => {
      d.ok(['create', '--name', 'idle', 'busybox', 'sleep', '300']);
      const r = d.gantry(['run', '--rm', '--network', 'container:idle', 'busybox', 'true']);
      assert.equal(r.status, 125, `run's status for a failed start, like docker's: ${r.stderr}`);
      assert.match(r.stderr, /cannot join the network of container idle: it is not running/);
      assert.match(r.stderr, /gantry start idle/);
      const gone = d.gantry(['run', '--rm', '--network', 'container:ghost', 'busybox', 'true']);
      assert.equal(gone.status, 1);
      assert.match(gone.stderr, /no such container: ghost/);
      for (const [flag, value, what] of [['--dns', '10.0.0.53', 'dns'], ['--add-host', 'db:10.1.2.3', 'custom host-to-IP mapping'], ['-p', '8080:80', 'port publishing']]) {
        const c = d.gantry(['run', '--rm', '--network', 'container:idle', flag!, value!, 'busybox', 'true']);
        assert.equal(c.status, 2, c.stderr);
        assert.match(c.stderr, new RegExp(`conflicting options: ${what} and the container type network mode`));
      }
      assert.deepEqual(d.ok(['ps', '-aq']).trim().split('\n').length, 1, 'refused runs made no container');
      d.ok(['start', 'idle']);
      assert.equal(d.ok(['run', '--rm', '--network', 'container:idle', 'busybox', 'hostname']).trim(), d.ok(['exec', 'idle', 'hostname']).trim());
    });
  });

  test('network inspect host / none lists the running containers of that mode; --format reads fields', async (t) => {
    await withDaemon(t, async ({ d, network }) => {
      const hostId = d.ok(['run', '-d', '--name', 'onhost', '--network', 'host', 'busybox', 'sleep', '300']).trim();
      const noneId = d.ok(['run', '-d', '--name', 'isolated', '--network', 'none', 'busybox', 'sleep', '300']).trim();
      d.ok(['run', '-d', '--name', 'bridged', 'busybox', 'sleep', '300']);
      d.ok(['create', '--name', 'stopped', '--network', 'host', 'busybox', 'true']);

      const [host, none] = JSON.parse(d.ok(['network', 'inspect', 'host', 'none'])) as NetworkInfo[];
      assert.deepEqual(Object.keys(host!.Containers), [hostId]);
      assert.equal(host!.Containers[hostId]!.Name, 'onhost');
      assert.equal(host!.Containers[hostId]!.IPv4Address, '');
      assert.match(host!.Containers[hostId]!.EndpointID, /^[0-9a-f]{64}$/);
      assert.deepEqual(Object.keys(none!.Containers), [noneId]);
      assert.equal(none!.Containers[noneId]!.Name, 'isolated');

      assert.equal(d.ok(['network', 'inspect', '--format', '{{.Name}} {{.Driver}}', 'host', 'none', 'bridge']), 'host host\nnone null\nbridge bridge\n');
      network('fmt', '--subnet', '10.234.5.0/24', '--label', 'team=blue');
      assert.equal(d.ok(['network', 'inspect', '-f', '{{.IPAM.Config}}', 'fmt']).trim(), '[{"Subnet":"10.234.5.0/24","Gateway":"10.234.5.1"}]');
      assert.equal(d.ok(['network', 'inspect', '-f', '{{.Labels.team}}', 'fmt']).trim(), 'blue');

      d.ok(['rm', '-f', 'onhost']);
      assert.deepEqual((JSON.parse(d.ok(['network', 'inspect', 'host'])) as NetworkInfo[])[0]!.Containers, {});
    });
  });

  test('network ls --filter and network prune: unused user networks go, with Docker\'s prompt and output', async (t) => {
    await withDaemon(t, async ({ d, network }) => {
      network('used', '--label', 'env=prod');
      network('spare-a', '--label', 'env=dev');
      network('spare-b');
      d.ok(['run', '-d', '--name', 'app', '--network', 'used', 'busybox', 'sleep', '300']);
      const names = (...filters: string[]): string[] =>
        d.ok(['network', 'ls', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Name}}']).split('\n').filter(Boolean);

      assert.deepEqual(names('name=spare'), ['spare-a', 'spare-b']);
      assert.deepEqual(names('label=env=dev'), ['spare-a']);
      assert.deepEqual(names('label=env'), ['spare-a', 'used']);
      assert.deepEqual(names('driver=host'), ['host']);
      assert.deepEqual(names('type=builtin'), ['bridge', 'host', 'none']);
      assert.deepEqual(names('type=custom', 'dangling=true'), ['spare-a', 'spare-b']);
      const bad = d.gantry(['network', 'ls', '--filter', 'colour=red']);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /invalid filter 'colour'/);

      const declined = d.gantry(['network', 'prune'], { input: 'n\n' });
      assert.equal(declined.status, 1);
      assert.match(declined.stdout, /^WARNING! This will remove all custom networks not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] /);
      assert.match(declined.stderr, /cancelled/);
      assert.deepEqual(names('type=custom'), ['spare-a', 'spare-b', 'used'], 'a declined prune removes nothing');

      assert.equal(d.ok(['network', 'prune', '-f', '--filter', 'label=env=dev']), 'Deleted Networks:\nspare-a\n\n');
      const yes = d.ok(['network', 'prune'], { input: 'y\n' });
      assert.ok(yes.endsWith('Deleted Networks:\nspare-b\n\n'), yes);
      assert.equal(d.ok(['network', 'prune', '--force']), '', 'nothing left to prune prints nothing');
      assert.deepEqual(names(), ['bridge', 'host', 'none', 'used']);

      d.ok(['rm', '-f', 'app']);
      assert.equal(d.ok(['network', 'prune', '-f']), 'Deleted Networks:\nused\n\n', 'a network whose containers are gone is unused');
    });
  });

  test('a published port hides the client: the container sees its network\'s gateway as the peer', async (t) => {
    await withDaemon(t, async ({ d, network }) => {
      network('edge', '--subnet', '10.235.9.0/24');
      // A CGI script that answers the peer address busybox httpd saw.
      const www = join(d.dir, 'www');
      mkdirSync(join(www, 'cgi-bin'), { recursive: true });
      writeFileSync(join(www, 'cgi-bin', 'peer'), '#!/bin/sh\nprintf \'Content-Type: text/plain\\r\\n\\r\\n%s\\n\' "$REMOTE_ADDR"\n', { mode: 0o755 });
      d.ok(['run', '-d', '--name', 'peer', '--network', 'edge', '-p', '127.0.0.1::7000', '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '7000', '-h', '/www']);
      const line = d.ok(['port', 'peer', '7000']).trim();
      const port = Number(line.slice(line.lastIndexOf(':') + 1));
      const seen = await eventually(() => httpGet(port, '/cgi-bin/peer'), 10_000, 'the CGI through the published port');
      // busybox httpd listens on IPv6 and prints an IPv4 peer as [::ffff:a.b.c.d].
      assert.equal(seen.trim().replace(/^\[(?:::ffff:)?(.*)\]$/, '$1'), '10.235.9.1', 'the gateway, not the client 127.0.0.1');
    });
  });

  test('the default bridge refuses --network-alias and --ip; aliases on a user network resolve and answer from other containers', async (t) => {
    await withDaemon(t, async ({ d, network, inspect }) => {
      for (const args of [['--network-alias', 'x'], ['--network', 'bridge', '--network-alias', 'x'], ['--ip', '172.17.0.9']]) {
        const r = d.gantry(['run', '--rm', ...args, 'busybox', 'true']);
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /only (for containers )?on user-defined networks/);
      }
      assert.equal(d.ok(['ps', '-aq']).trim(), '', 'a refused run makes no container');
      network('apps');
      d.ok(['run', '-d', '--name', 'plain', '--network', 'apps', 'busybox', 'sleep', '300']);
      const connect = d.gantry(['network', 'connect', '--alias', 'x', 'bridge', 'plain']);
      assert.equal(connect.status, 2);
      assert.match(connect.stderr, /aliases are supported only for containers on user-defined networks/);

      d.ok(['run', '-d', '--name', 'api', '--network', 'apps', '--network-alias', 'backend', ...httpd('0.0.0.0', 'hello-from-api')]);
      const apiIp = inspect('api').NetworkSettings.Networks['apps']!.IPAddress;
      assert.deepEqual(inspect('api').NetworkSettings.Networks['apps']!.Aliases, ['backend']);
      assert.match(d.ok(['run', '--rm', '--network', 'apps', 'busybox', 'nslookup', 'backend']), new RegExp(`Address: ${apiIp.replace(/\./g, '\\.')}\\b`));
      await eventually(() => {
        assert.equal(d.ok(['run', '--rm', '--network', 'apps', 'busybox', 'wget', '-qO-', 'http://backend:7000/']).trim(), 'hello-from-api');
      }, 10_000, 'api answering by its alias');
    });
  });
});
