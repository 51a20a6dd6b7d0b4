// Networks and a container's network settings in the Docker Engine API's shapes, pure.
import type { ContainerInspectInfo, NetworkInspectInfo } from 'dockerode';
import { toDockerPortMap, type PublishedPort } from './ports.js';
import type { ContainerNetState, EndpointRecord, NetworkRecord } from './store.js';

/** A network as `network ls/inspect` see it: a bridge network, or one of the pseudo networks host/none. */
export interface NetworkView {
  id: string;
  name: string;
  driver: 'bridge' | 'host' | 'null';
  created: string;
  record?: NetworkRecord | undefined;
}

/** A container on a network; on host/none the endpoint has no address (empty ip, mac). */
export interface EndpointOwner {
  containerId: string;
  name: string;
  endpoint: Pick<EndpointRecord, 'endpointId' | 'mac' | 'ip' | 'prefixLen'>;
}

export function inspectNetwork(n: NetworkView, endpoints: readonly EndpointOwner[]): NetworkInspectInfo {
  const r = n.record;
  const containers: NonNullable<NetworkInspectInfo['Containers']> = {};
  for (const e of endpoints) {
    containers[e.containerId] = {
      Name: e.name, EndpointID: e.endpoint.endpointId, MacAddress: e.endpoint.mac,
      IPv4Address: e.endpoint.ip === '' ? '' : `${e.endpoint.ip}/${e.endpoint.prefixLen}`, IPv6Address: '',
    };
  }
  // Only what the user gave (compose compares them to its file: anything more reads as "needs to be recreated");
  // the default bridge shows its name as Docker's docker0 does.
  const options: Record<string, string> = r === undefined ? {} : r.isDefault
    ? { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': r.bridge, ...r.options }
    : { ...r.options };
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: n.driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: r === undefined ? [] : [{ Subnet: r.subnet, Gateway: r.gateway }] },
    Internal: r?.internal ?? false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers, Options: options, Labels: r?.labels ?? {},
  };
}

type Settings = ContainerInspectInfo['NetworkSettings'];
type NetworkEntry = Settings['Networks'][string];

/** One entry of NetworkSettings.Networks; without an endpoint (container not running) the addresses are empty. */
export function networkEntry(networkId: string, aliases: string[], requestedIp: string | undefined, ep: EndpointRecord | undefined): NetworkEntry {
  return {
    IPAMConfig: requestedIp === undefined ? null : { IPv4Address: requestedIp }, Links: null,
    Aliases: aliases.length > 0 ? aliases : null, MacAddress: ep?.mac ?? '', NetworkID: networkId,
    EndpointID: ep?.endpointId ?? '', Gateway: ep?.gateway ?? '', IPAddress: ep?.ip ?? '', IPPrefixLen: ep?.prefixLen ?? 0,
    IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, ...(ep === undefined ? {} : { DNSNames: ep.dnsNames }),
  } as NetworkEntry;
}

/**
 * NetworkSettings like Docker's: Networks by name, Ports (exposed but unpublished ports map to null), and the
 * legacy top-level IPAddress/Gateway/MacAddress of the default bridge endpoint.
 */
export function containerNetworkSettings(
  networks: Record<string, NetworkEntry>,
  state: ContainerNetState | undefined,
  exposedPorts: readonly string[],
  defaultEndpoint: EndpointRecord | undefined,
): Settings {
  const ports: Record<string, unknown> = {};
  for (const e of exposedPorts) ports[e.includes('/') ? e : `${e}/tcp`] = null;
  Object.assign(ports, toDockerPortMap(state?.ports ?? ([] as PublishedPort[])));
  const d = defaultEndpoint;
  return {
    Bridge: '', SandboxID: state === undefined ? '' : state.containerId, HairpinMode: false,
    LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: ports as Settings['Ports'],
    SandboxKey: state === undefined ? '' : `/proc/${state.pid}/ns/net`, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: d?.endpointId ?? '', Gateway: d?.gateway ?? '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    IPAddress: d?.ip ?? '', IPPrefixLen: d?.prefixLen ?? 0, IPv6Gateway: '', MacAddress: d?.mac ?? '',
    Networks: networks,
  } as Settings;
}
