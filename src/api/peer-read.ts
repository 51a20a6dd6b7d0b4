// Waits until a client has read what the daemon wrote on its connection (the 101 header of a hijacked request).
// Clients that switch to the raw socket after the header — docker-py reads the header through a buffered reader
// and then reads the socket itself — lose whatever arrived together with the header. Docker has the same race;
// holding the first bytes of the stream back until the header has been read closes it.
import type { Duplex } from 'node:stream';
import { sysUnreadByPeer } from '../sys/ffi.js';

/** Far longer than load delays a reading client; a client that never reads holds the stream back no longer. */
const PEER_READ_WAIT_MS = 1000;
const POLL_MS = 1;

/** The socket's file descriptor, when it is one of node's socket handles on this platform. */
function socketFd(socket: Duplex): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Resolves once the peer has read everything written so far, the socket closed, or `maxMs` passed. */
export async function untilPeerHasRead(socket: Duplex, maxMs = PEER_READ_WAIT_MS): Promise<void> {
  const fd = socketFd(socket);
  if (fd === undefined) return;
  const deadline = Date.now() + maxMs;
  await new Promise<void>((resolve) => setImmediate(resolve));
  for (;;) {
    if (socket.destroyed || Date.now() >= deadline) return;
    if (socket.writableLength === 0) {
      const unread = sysUnreadByPeer(fd);
      if (unread === undefined || unread === 0) return;
    }
    await new Promise<void>((resolve) => setTimeout(resolve, POLL_MS));
  }
}
