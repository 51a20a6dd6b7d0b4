// Which shim protocol this build speaks, and what it makes of a shim that says another (docs/shim-protocol.md,
// "Versions"). Containers outlive the daemon: a daemon may re-adopt shims started by an older build.
import { GantryError } from '../../common/errors.js';

/** The protocol (status lines, control input, socket frames) this build's shim speaks and this daemon reads. */
export const SHIM_PROTOCOL_VERSION = 1;

/** Shims built before versions existed announce none: they speak version 1. */
export const UNANNOUNCED_PROTOCOL = 1;

/** The version in a shim's announcement (`ready` field, `v` answer); text that is not a version is an error. */
export function parseProtocolVersion(text: string, from: string): number {
  const t = text.trim();
  if (!/^[1-9]\d{0,8}$/.test(t)) {
    throw new GantryError('SHIM_FAILED', `${from} announced an unreadable protocol version`, { hint: 'the shim binary may be corrupt; rebuild it with `npm run build`' });
  }
  return Number(t);
}

/** Refuses a protocol this daemon does not know (a shim of a newer build), naming both versions. */
export function checkShimProtocol(version: number, from: string): void {
  if (version >= 1 && version <= SHIM_PROTOCOL_VERSION) return;
  throw new GantryError('UNSUPPORTED', `${from} speaks shim protocol ${version}; this daemon speaks up to ${SHIM_PROTOCOL_VERSION}`, {
    hint: 'it was started by a newer gantry build: run that build\'s gantryd, or stop the container from there',
    detail: { shimProtocol: version, daemonProtocol: SHIM_PROTOCOL_VERSION },
  });
}
