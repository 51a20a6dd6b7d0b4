// parseDockerfile(text, fileName): the Dockerfile reference's syntax → typed instructions, or a located
// DockerfileError (FILE:LINE:COL, the instruction, the offending line with a caret). Never throws anything else.

import { readDuration } from '../../common/units.js';
import { didYouMean } from '../../stack/suggest.js';
import { DiagnosticSource, DockerfileError } from './diagnostics.js';
import { readFlags, splitFlags, type FlagValues, type RawFlag } from './flags.js';
import { lexDockerfile, positionAt, type LogicalLine } from './lexer.js';
import {
  INSTRUCTION_KINDS, type CommandForm, type Dockerfile, type DockerfileWarning, type Heredoc, type Instruction,
  type KeyValue, type RunMount, type SourceRange,
} from './model.js';
import { parseMount } from './mounts.js';
import { fields, quotedWords, readJsonForm } from './words.js';

/** Cap on the Dockerfile's size (Docker's own front end refuses far smaller files in practice). */
export const MAX_DOCKERFILE_BYTES = 4 * 1024 * 1024;

const STAGE_NAME = /^[a-z][a-z0-9\-_.]*$/;
const HEREDOC_OPENER = /^\d*<<-?[^<]*$/;

interface Context {
  readonly src: DiagnosticSource;
  readonly line: LogicalLine;
  readonly escape: string;
  readonly keyword: string;
  readonly range: SourceRange;
  readonly original: string;
  readonly warnings: DockerfileWarning[];
}

function fail(ctx: Context, message: string, offset?: number, length?: number, hint?: string, code: 'DOCKERFILE_SYNTAX' | 'DOCKERFILE_INVALID' = 'DOCKERFILE_SYNTAX'): DockerfileError {
  const pos = offset === undefined ? { line: ctx.range.line, col: ctx.range.col } : positionAt(ctx.line, offset);
  return ctx.src.error({ code, message, instruction: ctx.keyword, line: pos.line, col: pos.col, length: length ?? (offset === undefined ? ctx.keyword.length : undefined), hint });
}

function flagError(ctx: Context, flag: RawFlag, message: string, hint?: string): DockerfileError {
  return fail(ctx, message, flag.offset, flag.length, hint);
}

function commandForm(ctx: Context, rest: string, restOffset: number): CommandForm {
  const json = readJsonForm(rest);
  if (json.kind === 'json') return { form: 'exec', args: json.args };
  if (json.kind === 'not-strings') throw fail(ctx, 'the JSON array (exec form) must hold only strings', restOffset, rest.length, 'quote every element, e.g. ["sh", "-c", "echo 1"]');
  return { form: 'shell', command: rest };
}

function requireArgs(ctx: Context, rest: string, what = 'at least one argument'): void {
  if (rest.trim() === '') throw fail(ctx, `${ctx.keyword} requires ${what}`, undefined, undefined, hintFor(ctx.keyword));
}

function hintFor(keyword: string): string | undefined {
  const usage: Record<string, string> = {
    FROM: 'FROM [--platform=P] IMAGE [AS NAME]', RUN: 'RUN COMMAND or RUN ["EXECUTABLE", "ARG"]', CMD: 'CMD ["EXECUTABLE", "ARG"]',
    ENTRYPOINT: 'ENTRYPOINT ["EXECUTABLE", "ARG"]', ENV: 'ENV KEY=VALUE ...', ARG: 'ARG NAME[=DEFAULT]', LABEL: 'LABEL KEY=VALUE ...',
    EXPOSE: 'EXPOSE PORT[/PROTO] ...', VOLUME: 'VOLUME ["/data"]', USER: 'USER USER[:GROUP]', WORKDIR: 'WORKDIR /PATH',
    COPY: 'COPY [--from=STAGE] SRC... DEST', ADD: 'ADD SRC... DEST', ONBUILD: 'ONBUILD INSTRUCTION', STOPSIGNAL: 'STOPSIGNAL SIGNAL',
    HEALTHCHECK: 'HEALTHCHECK [--interval=D ...] CMD COMMAND, or HEALTHCHECK NONE', SHELL: 'SHELL ["EXECUTABLE", "PARAMETERS"]', MAINTAINER: 'MAINTAINER NAME',
  };
  return usage[keyword] === undefined ? undefined : `usage: ${usage[keyword]}`;
}

function keyValues(ctx: Context, rest: string, restOffset: number): KeyValue[] {
  requireArgs(ctx, rest);
  const words = quotedWords(rest, ctx.escape);
  const first = words[0] as string;
  if (!first.includes('=')) {
    // The legacy form `ENV KEY VALUE WITH SPACES` (one pair; Docker still accepts it).
    const value = rest.trim().slice(first.length).trim();
    if (value === '') throw fail(ctx, `${ctx.keyword} must have two arguments: ${first} has no value`, restOffset, rest.length, `write ${ctx.keyword} ${first}=VALUE`);
    ctx.warnings.push({ line: ctx.range.line, message: `${ctx.keyword} ${first} ${value}: the legacy "${ctx.keyword} key value" form; write ${ctx.keyword} ${first}=… (Docker warns too)` });
    return [{ key: first, value }];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    const at = restOffset + Math.max(0, rest.indexOf(word));
    if (eq < 0) throw fail(ctx, `cannot find = in ${JSON.stringify(word)}; each argument must be NAME=VALUE`, at, word.length, hintFor(ctx.keyword));
    if (eq === 0) throw fail(ctx, `${ctx.keyword} names cannot be blank`, at, word.length, hintFor(ctx.keyword));
    return { key: word.slice(0, eq), value: word.slice(eq + 1) };
  });
}

function durationFlag(ctx: Context, flags: readonly RawFlag[], values: FlagValues, name: string): number | undefined {
  const text = values.get(name);
  if (typeof text !== 'string') return undefined;
  const flag = flags.find((f) => f.name === name) as RawFlag;
  if (/^\d+(\.\d*)?$/.test(text) && Number(text) !== 0) throw flagError(ctx, flag, `--${name}=${text}: missing a unit`, 'write a Go duration such as 30s, 1m30s or 500ms');
  const reading = readDuration(text);
  if ('problem' in reading) throw flagError(ctx, flag, `--${name}=${text} is not a duration: ${reading.problem}`, 'write a Go duration such as 30s, 1m30s or 500ms');
  if (reading.ns !== 0 && reading.ns < 1e6) throw flagError(ctx, flag, `--${name} cannot be less than 1ms`);
  return reading.ns;
}

function copySources(ctx: Context, rest: string, restOffset: number): { sources: string[]; dest: string; heredocs: Heredoc[] } {
  const json = readJsonForm(rest);
  if (json.kind === 'not-strings') throw fail(ctx, 'the JSON array must hold only strings', restOffset, rest.length);
  const words = json.kind === 'json' ? json.args : fields(rest);
  const heredocs = json.kind === 'json' ? [] : [...ctx.line.heredocs];
  if (words.length < 2) {
    throw fail(ctx, `${ctx.keyword} requires at least two arguments: a source and a destination`, undefined, undefined, hintFor(ctx.keyword));
  }
  const dest = words[words.length - 1] as string;
  const sources: string[] = [];
  const candidates = words.slice(0, -1);
  for (let i = 0; i < candidates.length; i++) {
    const w = candidates[i] as string;
    if (heredocs.length > 0 && HEREDOC_OPENER.test(w)) {
      if (/^\d*<<-?$/.test(w)) i++; // `<< EOF`: the delimiter is the next word
      continue;
    }
    sources.push(w);
  }
  return { sources, dest, heredocs };
}

function parseInstruction(ctx: Context, argsText: string, argsOffset: number): Instruction {
  const { keyword, range, original } = ctx;
  const base = { range, original };
  const split = splitFlags(argsText, argsOffset, ctx.escape);
  const read = readFlags(keyword, split.flags);
  if ('problem' in read) throw flagError(ctx, read.problem.flag, read.problem.message, read.problem.hint);
  const { values } = read;
  const { rest, restOffset } = split;
  const str = (name: string): string | undefined => values.get(name) as string | undefined;
  const list = (name: string): readonly string[] => (values.get(name) as readonly string[] | undefined) ?? [];
  const bool = (name: string): boolean => values.get(name) === true;

  switch (keyword) {
    case 'FROM': {
      const words = fields(rest);
      if (words.length !== 1 && !(words.length === 3 && (words[1] as string).toLowerCase() === 'as')) {
        throw fail(ctx, 'FROM requires either one argument, or three: IMAGE AS NAME', restOffset, rest.length, hintFor('FROM'));
      }
      const stageName = words[2]?.toLowerCase();
      if (stageName !== undefined && !STAGE_NAME.test(stageName)) {
        throw fail(ctx, `invalid name for a build stage: ${JSON.stringify(words[2])}; a name starts with a letter and holds only letters, digits, "-", "_" and "."`, restOffset + rest.lastIndexOf(words[2] as string), (words[2] as string).length);
      }
      return { kind: 'FROM', ...base, image: words[0] as string, platform: str('platform'), stageName };
    }
    case 'RUN': {
      requireArgs(ctx, rest);
      const mounts: RunMount[] = [];
      for (const text of list('mount')) {
        const reading = parseMount(text);
        if ('problem' in reading) {
          const flag = split.flags.find((f) => f.name === 'mount' && f.value === text) as RawFlag;
          throw flagError(ctx, flag, `--mount: ${reading.problem}`, 'see BuildKit\'s RUN --mount: type=bind|cache|tmpfs|secret|ssh,target=PATH,…');
        }
        mounts.push(reading.mount);
      }
      const network = str('network');
      if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
        throw flagError(ctx, split.flags.find((f) => f.name === 'network') as RawFlag, `--network=${network}: expected default, none or host`);
      }
      const security = str('security');
      if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
        throw flagError(ctx, split.flags.find((f) => f.name === 'security') as RawFlag, `--security=${security}: expected sandbox or insecure`);
      }
      const command = commandForm(ctx, rest, restOffset);
      return { kind: 'RUN', ...base, command, heredocs: command.form === 'shell' ? ctx.line.heredocs : [], mounts, network, security };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      // Docker accepts them bare: an empty shell form (ENTRYPOINT then resets the image's entrypoint).
      return { kind: keyword, ...base, command: commandForm(ctx, rest, restOffset) };
    case 'ENV':
      return { kind: 'ENV', ...base, pairs: keyValues(ctx, rest, restOffset) };
    case 'LABEL':
      return { kind: 'LABEL', ...base, pairs: keyValues(ctx, rest, restOffset) };
    case 'ARG': {
      requireArgs(ctx, rest);
      const args = quotedWords(rest, ctx.escape).map((word) => {
        const eq = word.indexOf('=');
        if (eq === 0) throw fail(ctx, 'ARG names cannot be blank', restOffset + Math.max(0, rest.indexOf(word)), word.length, hintFor('ARG'));
        return eq < 0 ? { name: word, defaultValue: undefined } : { name: word.slice(0, eq), defaultValue: word.slice(eq + 1) };
      });
      return { kind: 'ARG', ...base, args };
    }
    case 'EXPOSE':
      requireArgs(ctx, rest);
      return { kind: 'EXPOSE', ...base, ports: fields(rest) };
    case 'VOLUME': {
      requireArgs(ctx, rest);
      const json = readJsonForm(rest);
      if (json.kind === 'not-strings') throw fail(ctx, 'the JSON array must hold only strings', restOffset, rest.length);
      const paths = json.kind === 'json' ? json.args : fields(rest);
      if (paths.length === 0 || paths.some((p) => p.trim() === '')) throw fail(ctx, 'VOLUME specified can not be an empty string', restOffset, rest.length, hintFor('VOLUME'));
      return { kind: 'VOLUME', ...base, paths };
    }
    case 'USER':
    case 'STOPSIGNAL': {
      const words = fields(rest);
      if (words.length !== 1) throw fail(ctx, `${keyword} requires exactly one argument`, words.length === 0 ? undefined : restOffset, words.length === 0 ? undefined : rest.length, hintFor(keyword));
      return keyword === 'USER' ? { kind: 'USER', ...base, user: words[0] as string } : { kind: 'STOPSIGNAL', ...base, signal: words[0] as string };
    }
    case 'WORKDIR':
      requireArgs(ctx, rest, 'exactly one argument');
      return { kind: 'WORKDIR', ...base, path: rest.trim() };
    case 'MAINTAINER':
      requireArgs(ctx, rest, 'exactly one argument');
      ctx.warnings.push({ line: range.line, message: 'MAINTAINER is deprecated; use LABEL org.opencontainers.image.authors=… instead' });
      return { kind: 'MAINTAINER', ...base, maintainer: rest.trim() };
    case 'COPY': {
      const s = copySources(ctx, rest, restOffset);
      return { kind: 'COPY', ...base, ...s, from: str('from'), chown: str('chown'), chmod: str('chmod'), link: bool('link'), exclude: list('exclude'), parents: bool('parents') };
    }
    case 'ADD': {
      const s = copySources(ctx, rest, restOffset);
      return { kind: 'ADD', ...base, ...s, chown: str('chown'), chmod: str('chmod'), link: bool('link'), exclude: list('exclude'), checksum: str('checksum'), keepGitDir: bool('keep-git-dir') };
    }
    case 'SHELL': {
      const json = readJsonForm(rest);
      if (json.kind !== 'json' || json.args.length === 0) throw fail(ctx, 'SHELL requires the arguments in JSON form, e.g. SHELL ["/bin/bash", "-c"]', restOffset, Math.max(1, rest.length), hintFor('SHELL'));
      return { kind: 'SHELL', ...base, shell: json.args };
    }
    case 'HEALTHCHECK': {
      requireArgs(ctx, rest);
      const typeWord = (fields(rest)[0] as string).toUpperCase();
      const after = rest.trimStart().slice(typeWord.length);
      const afterOffset = restOffset + (rest.length - rest.trimStart().length) + typeWord.length;
      if (typeWord === 'NONE') {
        if (after.trim() !== '') throw fail(ctx, 'HEALTHCHECK NONE takes no other arguments', afterOffset, after.length);
        if (split.flags.length > 0) throw flagError(ctx, split.flags[0] as RawFlag, 'HEALTHCHECK NONE takes no flags');
        return { kind: 'HEALTHCHECK', ...base, mode: 'none' };
      }
      if (typeWord !== 'CMD') throw fail(ctx, `unknown type ${JSON.stringify(fields(rest)[0])} in HEALTHCHECK (try CMD)`, restOffset, typeWord.length, hintFor('HEALTHCHECK'));
      const cmdText = after.trimStart();
      if (cmdText === '') throw fail(ctx, 'HEALTHCHECK CMD requires a command', undefined, undefined, hintFor('HEALTHCHECK'));
      let retries: number | undefined;
      const retriesText = str('retries');
      if (retriesText !== undefined) {
        if (!/^\d+$/.test(retriesText)) throw flagError(ctx, split.flags.find((f) => f.name === 'retries') as RawFlag, `--retries=${retriesText} is not a whole number of at least 0`);
        retries = Number(retriesText);
      }
      return {
        kind: 'HEALTHCHECK', ...base, mode: 'cmd', command: commandForm(ctx, cmdText, afterOffset + (after.length - cmdText.length)),
        intervalNs: durationFlag(ctx, split.flags, values, 'interval'), timeoutNs: durationFlag(ctx, split.flags, values, 'timeout'),
        startPeriodNs: durationFlag(ctx, split.flags, values, 'start-period'), startIntervalNs: durationFlag(ctx, split.flags, values, 'start-interval'), retries,
      };
    }
    case 'ONBUILD': {
      requireArgs(ctx, rest);
      const lead = rest.length - rest.trimStart().length;
      const innerWord = /^\S+/.exec(rest.trimStart())?.[0] as string;
      const inner = innerWord.toUpperCase();
      const innerOffset = restOffset + lead;
      if (inner === 'ONBUILD') throw fail(ctx, 'chaining ONBUILD via `ONBUILD ONBUILD` is not allowed', innerOffset, innerWord.length);
      if (inner === 'FROM' || inner === 'MAINTAINER') throw fail(ctx, `${inner} is not allowed as an ONBUILD trigger`, innerOffset, innerWord.length);
      checkKeyword(ctx, innerWord, innerOffset);
      const innerArgs = rest.trimStart().slice(innerWord.length);
      const trigger = parseInstruction({ ...ctx, keyword: inner }, innerArgs.replace(/^[ \t]+/, ''), innerOffset + innerWord.length + (innerArgs.length - innerArgs.replace(/^[ \t]+/, '').length));
      // As Docker stores it in the image's OnBuild list: the trigger's line, then each heredoc body and delimiter.
      const triggerText = rest.trim() + ctx.line.heredocs.map((h) => `\n${h.content}${h.name}`).join('');
      return { kind: 'ONBUILD', ...base, trigger, triggerText };
    }
    default:
      throw new Error(`unhandled Dockerfile instruction ${keyword}`);
  }
}

function checkKeyword(ctx: Context, word: string, offset: number): void {
  const upper = word.toUpperCase();
  if ((INSTRUCTION_KINDS as readonly string[]).includes(upper)) return;
  const close = didYouMean(upper, INSTRUCTION_KINDS);
  const pos = positionAt(ctx.line, offset);
  throw ctx.src.error({
    message: `unknown instruction: ${word}${close === undefined ? '' : ` (did you mean ${close}?)`}`, line: pos.line, col: pos.col, length: word.length,
    hint: `instructions are ${INSTRUCTION_KINDS.join(', ')}`,
  });
}

/** Parses a Dockerfile; throws DockerfileError (and nothing else) when it cannot be built. */
export function parseDockerfile(text: string, fileName: string): Dockerfile {
  const src = new DiagnosticSource(fileName, text);
  if (Buffer.byteLength(text) > MAX_DOCKERFILE_BYTES) {
    throw new DockerfileError({ code: 'DOCKERFILE_INVALID', severity: 'error', message: `the Dockerfile is larger than ${MAX_DOCKERFILE_BYTES} bytes`, hint: 'a Dockerfile this large is not a Dockerfile; check -f', instruction: undefined, location: undefined });
  }
  const lexed = lexDockerfile(text, src);
  const warnings: DockerfileWarning[] = [...lexed.warnings];
  const instructions: Instruction[] = [];
  const stageNames = new Map<string, number>();
  let seenFrom = false;
  for (const line of lexed.lines) {
    const word = /^\S+/.exec(line.text)?.[0] as string;
    const pos = positionAt(line, 0);
    const original = lexed.physical.slice(line.startLine - 1, line.endLine).join('\n');
    const ctx: Context = { src, line, escape: lexed.directives.escape, keyword: word.toUpperCase(), range: { line: pos.line, col: pos.col, endLine: line.endLine }, original, warnings };
    checkKeyword(ctx, word, 0);
    const argsRaw = line.text.slice(word.length);
    const args = argsRaw.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
    if (line.continuedAtEof) {
      if (args.trim() === '') throw fail(ctx, `the file ends inside a line continuation and ${ctx.keyword} has no arguments`, undefined, undefined, 'remove the escape character at the end of the last line, or finish the instruction');
      warnings.push({ line: line.startLine, message: `${ctx.keyword}: the file ends inside a line continuation (the escape character at the end of the last line)` });
    }
    const inst = parseInstruction(ctx, args, word.length + (argsRaw.length - args.length));
    if (!seenFrom && inst.kind !== 'FROM' && inst.kind !== 'ARG') {
      throw fail(ctx, 'this instruction comes before the first FROM; only ARG may (no build stage in current context)', 0, word.length, 'start the build stage with FROM IMAGE first', 'DOCKERFILE_INVALID');
    }
    if (inst.kind === 'FROM') seenFrom = true;
    if (inst.kind === 'FROM' && inst.stageName !== undefined) {
      const previous = stageNames.get(inst.stageName);
      if (previous !== undefined) {
        const at = line.text.toLowerCase().lastIndexOf(inst.stageName);
        throw fail(ctx, `duplicate stage name ${JSON.stringify(inst.stageName)} (first defined at line ${previous})`, at, inst.stageName.length, 'give each stage its own name', 'DOCKERFILE_INVALID');
      }
      stageNames.set(inst.stageName, inst.range.line);
    }
    instructions.push(inst);
  }
  if (!seenFrom) {
    const empty = instructions.length === 0;
    throw new DockerfileError(src.diagnostic({
      code: 'DOCKERFILE_INVALID', line: empty ? 1 : (instructions[instructions.length - 1] as Instruction).range.line,
      message: empty ? 'the Dockerfile is empty: it holds no instruction' : 'the Dockerfile has no FROM instruction: there is no stage to build',
      hint: 'start a build stage with FROM IMAGE (or FROM scratch)',
    }));
  }
  return { fileName, text, directives: lexed.directives, instructions, warnings };
}
