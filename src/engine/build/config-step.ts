// Metadata steps (ENV LABEL CMD ENTRYPOINT EXPOSE VOLUME USER WORKDIR STOPSIGNAL HEALTHCHECK SHELL ARG ONBUILD
// MAINTAINER) applied to an image config, from the front end's typed instructions (already substituted), and
// the history line each step gets. History uses the classic builder's forms: `/bin/sh -c #(nop)  CMD ["x"]`
// for metadata, `/bin/sh -c #(nop) COPY file:… in /dst ` for COPY/ADD, `/bin/sh -c CMD` (or `|N K=V … /bin/sh -c
// CMD` when build args are in the environment) for RUN.
import { posix } from 'node:path';
import { GantryError } from '../../common/errors.js';
import type { ImageConfigFields } from '../images/oci.js';
import type { CommandForm, Instruction } from './model.js';

export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** A CMD/ENTRYPOINT/HEALTHCHECK command as the config holds it (the shell form through SHELL in effect). */
export function commandArgv(command: CommandForm, config: ImageConfigFields): string[] {
  return command.form === 'exec' ? [...command.args] : [...(config.Shell ?? DEFAULT_SHELL), command.command];
}

function ports(words: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (m === null || lo < 1 || hi > 65535 || hi < lo) throw new GantryError('DOCKERFILE_INVALID', `EXPOSE: invalid port "${w}"`, { hint: 'EXPOSE PORT[/tcp|udp|sctp] or a range LOW-HIGH' });
    for (let p = lo; p <= hi; p++) out.push(`${p}/${(m[3] ?? 'tcp').toLowerCase()}`);
  }
  return out;
}

/** WORKDIR's path: relative to the current one. */
export function workdirPath(path: string, config: ImageConfigFields): string {
  return posix.normalize(path.startsWith('/') ? path : posix.join(config.WorkingDir || '/', path));
}

/** The config after a metadata instruction; `cmdSet` tells ENTRYPOINT whether a CMD came earlier in the stage. */
export function applyMetadata(inst: Instruction, base: ImageConfigFields, cmdSet: boolean): ImageConfigFields {
  const c = structuredClone(base);
  switch (inst.kind) {
    case 'ENV': {
      const env = new Map((c.Env ?? []).map((e) => { const i = e.indexOf('='); return [i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1)] as const; }));
      for (const p of inst.pairs) env.set(p.key, p.value);
      c.Env = [...env].map(([k, v]) => `${k}=${v}`);
      break;
    }
    case 'LABEL':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const p of inst.pairs) c.Labels[p.key] = p.value;
      break;
    case 'MAINTAINER':
      break;
    case 'CMD':
      c.Cmd = commandArgv(inst.command, c);
      break;
    case 'ENTRYPOINT':
      c.Entrypoint = commandArgv(inst.command, c);
      if (!cmdSet) delete c.Cmd;
      break;
    case 'EXPOSE': {
      // keys sorted, as Go writes a map
      const all = new Set([...Object.keys(c.ExposedPorts ?? {}), ...ports(inst.ports)]);
      c.ExposedPorts = Object.fromEntries([...all].sort().map((p) => [p, {}]));
      break;
    }
    case 'VOLUME':
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const p of inst.paths) if (p !== '') c.Volumes[p] = {};
      break;
    case 'USER':
      c.User = inst.user;
      break;
    case 'WORKDIR':
      c.WorkingDir = workdirPath(inst.path, c);
      break;
    case 'STOPSIGNAL':
      c.StopSignal = inst.signal;
      break;
    case 'SHELL':
      c.Shell = [...inst.shell];
      break;
    case 'ONBUILD':
      c.OnBuild = [...(c.OnBuild ?? []), inst.triggerText];
      break;
    case 'HEALTHCHECK':
      if (inst.mode === 'none') c.Healthcheck = { Test: ['NONE'] };
      else {
        c.Healthcheck = {
          Test: inst.command.form === 'exec' ? ['CMD', ...inst.command.args] : ['CMD-SHELL', inst.command.command],
          ...(inst.intervalNs === undefined ? {} : { Interval: inst.intervalNs }),
          ...(inst.timeoutNs === undefined ? {} : { Timeout: inst.timeoutNs }),
          ...(inst.startPeriodNs === undefined ? {} : { StartPeriod: inst.startPeriodNs }),
          ...(inst.startIntervalNs === undefined ? {} : { StartInterval: inst.startIntervalNs }),
          ...(inst.retries === undefined ? {} : { Retries: inst.retries }),
        };
      }
      break;
    case 'ARG':
      break;
    default:
      throw new Error(`${inst.kind} is not a metadata instruction`);
  }
  return c;
}

/** The classic builder's `#(nop)` prefix: the SHELL in effect (after the step), then `#(nop) `. */
export function nopPrefix(config: ImageConfigFields): string {
  return `${(config.Shell ?? DEFAULT_SHELL).join(' ')} #(nop) `;
}

/** Go's `%q` of a string list (`["a" "b"]`). */
const quotedList = (a: readonly string[]): string => `[${a.map((s) => JSON.stringify(s)).join(' ')}]`;

/** Go's time.Duration String() of nanoseconds: `0s`, `500ms`, `1.5s`, `1m30s`, `1h0m0s`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let n = Math.abs(Math.round(ns));
  const frac = (value: number, digits: number): string => {
    const whole = Math.floor(value / 10 ** digits);
    const rest = (value % 10 ** digits).toString().padStart(digits, '0').replace(/0+$/, '');
    return rest === '' ? String(whole) : `${whole}.${rest}`;
  };
  if (n < 1_000) return `${sign}${n}ns`;
  if (n < 1_000_000) return `${sign}${frac(n, 3)}µs`;
  if (n < 1_000_000_000) return `${sign}${frac(n, 6)}ms`;
  const h = Math.floor(n / 3_600_000_000_000);
  n -= h * 3_600_000_000_000;
  const m = Math.floor(n / 60_000_000_000);
  n -= m * 60_000_000_000;
  const sec = `${frac(n, 9)}s`;
  return `${sign}${h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m` : ''}${sec}`;
}

/** Go's `%q` of an int: a quoted rune literal (`'\x03'`, `'\n'`, `'0'`). */
export function goQuoteRune(n: number): string {
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 39: "\\'", 92: '\\\\' };
  if (named[n] !== undefined) return `'${named[n]}'`;
  if (n >= 0x20 && n < 0x7f) return `'${String.fromCharCode(n)}'`;
  if (n >= 0 && n < 0x80) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  return `'\\u${n.toString(16).padStart(4, '0')}'`;
}

/** The history `created_by` of a metadata step (after substitution), as the classic builder writes it. */
export function metadataCreatedBy(inst: Instruction, config: ImageConfigFields): string {
  const NOP = nopPrefix(config);
  const arr = quotedList;
  /** Go's `%v` of a string list (`[a b]`), which the classic builder uses for VOLUME and SHELL. */
  const plain = (a: readonly string[]): string => `[${a.join(' ')}]`;
  switch (inst.kind) {
    case 'CMD': return `${NOP} CMD ${arr(config.Cmd ?? [])}`;
    case 'ENTRYPOINT': return `${NOP} ENTRYPOINT ${arr(config.Entrypoint ?? [])}`;
    case 'ENV': return `${NOP} ENV ${inst.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
    case 'LABEL': return `${NOP} LABEL ${inst.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
    case 'ARG': return `${NOP} ARG ${inst.args.map((a) => (a.defaultValue === undefined ? a.name : `${a.name}=${a.defaultValue}`)).join(' ')}`;
    case 'EXPOSE': return `${NOP} EXPOSE ${[...inst.ports].sort().join(' ')}`;
    case 'VOLUME': return `${NOP} VOLUME ${plain(inst.paths)}`;
    case 'USER': return `${NOP} USER ${inst.user}`;
    case 'WORKDIR': return `${NOP}WORKDIR ${config.WorkingDir ?? inst.path}`;
    case 'STOPSIGNAL': return `${NOP} STOPSIGNAL ${inst.signal}`;
    case 'SHELL': return `${NOP} SHELL ${plain(inst.shell)}`;
    case 'ONBUILD': return `${NOP} ONBUILD ${inst.triggerText}`;
    case 'MAINTAINER': return `${NOP} MAINTAINER ${inst.maintainer}`;
    case 'HEALTHCHECK': {
      // `%q` of Docker 20.10's HealthConfig {Test, Interval, Timeout, StartPeriod, Retries}
      const h = config.Healthcheck ?? { Test: ['NONE'] };
      return `${NOP} HEALTHCHECK &{${arr(h.Test ?? [])} "${goDuration(h.Interval ?? 0)}" "${goDuration(h.Timeout ?? 0)}" "${goDuration(h.StartPeriod ?? 0)}" ${goQuoteRune(h.Retries ?? 0)}}`;
    }
    default: return `${NOP} ${inst.kind}`;
  }
}

/** RUN's `created_by`: the command, with the build args in its environment first (`|2 A=1 B=2 /bin/sh -c …`). */
export function runCreatedBy(argv: readonly string[], args: ReadonlyMap<string, string>): string {
  const prefix = args.size === 0 ? '' : `|${args.size} ${[...args].map(([k, v]) => `${k}=${v}`).join(' ')} `;
  return `${prefix}${argv.join(' ')}`;
}
