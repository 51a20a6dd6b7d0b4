// /networks/... routes (Docker Engine API paths and shapes).
import type { NetworkConnectOptions, NetworkCreateOptions } from 'dockerode';
import { GantryError } from '../../common/errors.js';
import type { Engine } from '../../engine/engine.js';
import { networkListFilter } from '../../engine/network/filters.js';
import { filtersParam, type Router } from '../router.js';

export function networkRoutes(r: Router, engine: Engine): void {
  const network = engine.networks;

  r.add('GET', '/networks', (ctx) => network.list().filter(networkListFilter(filtersParam(ctx.query))));

  r.add('POST', '/networks/prune', async (ctx) => ({ NetworksDeleted: await network.prune(filtersParam(ctx.query)) }));

  r.add('GET', '/networks/{id}', (ctx) => network.inspect(ctx.params['id']!));

  r.add('POST', '/networks/create', (ctx) => {
    const b = (ctx.body ?? {}) as Partial<NetworkCreateOptions>;
    if (typeof b.Name !== 'string' || b.Name === '') throw new GantryError('INVALID_ARGUMENT', 'a network needs a name');
    if (b.EnableIPv6) throw new GantryError('UNSUPPORTED', 'IPv6 networks are not supported', { hint: 'leave out --ipv6' });
    const configs = b.IPAM?.Config ?? [];
    if (configs.length > 1) throw new GantryError('UNSUPPORTED', 'a network has at most one subnet');
    const rec = network.create({
      name: b.Name, driver: b.Driver, subnet: configs[0]?.Subnet || undefined, gateway: configs[0]?.Gateway || undefined,
      internal: b.Internal ?? false, labels: b.Labels ?? {}, options: b.Options ?? {},
    });
    return { Id: rec.id, Warning: '' };
  }, { status: 201 });

  r.add('DELETE', '/networks/{id}', async (ctx) => {
    await network.remove(ctx.params['id']!);
    return undefined;
  }, { status: 204 });

  r.add('POST', '/networks/{id}/connect', async (ctx) => {
    const b = (ctx.body ?? {}) as NetworkConnectOptions;
    if (!b.Container) throw new GantryError('INVALID_ARGUMENT', 'connect needs a Container');
    await network.connect(ctx.params['id']!, b.Container, {
      aliases: b.EndpointConfig?.Aliases ?? [], ipv4Address: b.EndpointConfig?.IPAMConfig?.IPv4Address || undefined,
    });
    return undefined;
  });

  r.add('POST', '/networks/{id}/disconnect', async (ctx) => {
    const b = (ctx.body ?? {}) as { Container?: string; Force?: boolean };
    if (!b.Container) throw new GantryError('INVALID_ARGUMENT', 'disconnect needs a Container');
    await network.disconnect(ctx.params['id']!, b.Container);
    return undefined;
  });
}
