// The network manager's per-container states and their index by network: what a start's IPAM, a removal's "is
// the network's DNS still needed" and a DNS query's "whose address is this" read, without walking every container.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerNetStates } from '../../../src/engine/network/net-states.js';
import type { ContainerNetState, EndpointRecord } from '../../../src/engine/network/store.js';

function ep(networkId: string, ip: string): EndpointRecord {
  return { networkId, endpointId: `${networkId}-${ip}`, ip, prefixLen: 16, gateway: '172.20.0.1', mac: '02:42:00:00:00:01', aliases: [], dnsNames: [], hostIfName: 'gtx', ifName: 'eth0' };
}
function state(containerId: string, ...endpoints: EndpointRecord[]): ContainerNetState {
  return { containerId, pid: 1, endpoints, ports: [] };
}
const ips = (s: ContainerNetStates, net: string): string[] => s.endpointsOn(net).map((e) => `${e.containerId}:${e.endpoint.ip}`).sort();

describe('ContainerNetStates', () => {
  test('endpoints by network follow set, delete, and endpoints added and removed', () => {
    const s = new ContainerNetStates();
    s.set(state('a', ep('n1', '10.0.0.2'), ep('n2', '10.1.0.2')));
    const b = state('b');
    s.set(b);
    s.addEndpoint(b, ep('n1', '10.0.0.3'));
    assert.deepEqual(ips(s, 'n1'), ['a:10.0.0.2', 'b:10.0.0.3']);
    assert.deepEqual(ips(s, 'n2'), ['a:10.1.0.2']);
    assert.equal(s.ownerOf('n1', '10.0.0.3'), b);
    assert.equal(s.ownerOf('n2', '10.0.0.3'), undefined, 'an address is looked up on its own network only');

    s.removeEndpoint(b, b.endpoints[0]!);
    assert.deepEqual(b.endpoints, []);
    assert.deepEqual(ips(s, 'n1'), ['a:10.0.0.2']);
    assert.equal(s.delete('a')?.containerId, 'a');
    assert.equal(s.hasEndpointsOn('n1'), false);
    assert.equal(s.hasEndpointsOn('n2'), false);
    assert.deepEqual([...s.values()].map((x) => x.containerId), ['b']);
    assert.equal(s.size, 1);
  });

  test('a state set again replaces the old one and its endpoints', () => {
    const s = new ContainerNetStates();
    s.set(state('a', ep('n1', '10.0.0.2')));
    s.set(state('a', ep('n2', '10.1.0.5')));
    assert.equal(s.hasEndpointsOn('n1'), false);
    assert.deepEqual(ips(s, 'n2'), ['a:10.1.0.5']);
  });

  test('an endpoint added to a state that is not held changes the state only', () => {
    const s = new ContainerNetStates();
    const loose = state('x');
    s.addEndpoint(loose, ep('n1', '10.0.0.9'));
    assert.equal(loose.endpoints.length, 1);
    assert.equal(s.hasEndpointsOn('n1'), false);
    s.set(loose);
    assert.deepEqual(ips(s, 'n1'), ['x:10.0.0.9']);
  });
});
