// The short listing `gantry ps` asks the daemon for: `GET /containers/json?gantry-view=ps` answers each container with
// only the fields its table shows. At 10,000 containers Docker's full entries were 6.7 MB of JSON, and the CLI's time
// went to parsing them and to faulting in the memory they took; the daemon also skips building each one's network
// settings. Docker's daemon ignores the parameter (the CLI then gets full entries, a superset).
import type { ContainerInfo } from 'dockerode';

export const PS_VIEW_PARAM = 'gantry-view';
export const PS_VIEW = 'ps';

export type PsEntry = Pick<ContainerInfo, 'Id' | 'Names' | 'Image' | 'Command' | 'Created' | 'Ports' | 'State' | 'Status'>;

export function psEntryOf(c: PsEntry): PsEntry {
  return { Id: c.Id, Names: c.Names, Image: c.Image, Command: c.Command, Created: c.Created, Ports: c.Ports, State: c.State, Status: c.Status };
}
