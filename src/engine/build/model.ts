// The typed form of a Dockerfile: one discriminated union member per instruction, with where it was written.
// Values that Docker substitutes ($VAR) are kept as written here; src/engine/build/expand.ts substitutes them.

/** Where an instruction was written: 1-based first line and column of its keyword, and its last line. */
export interface SourceRange {
  readonly line: number;
  readonly col: number;
  /** Last line, heredoc bodies included. */
  readonly endLine: number;
}

/** `RUN`/`CMD`/`ENTRYPOINT` arguments: the JSON array (exec form) or the text handed to the shell. */
export type CommandForm =
  | { readonly form: 'exec'; readonly args: readonly string[] }
  | { readonly form: 'shell'; readonly command: string };

/** A here-document: `<<EOF` (expands variables), `<<'EOF'`/`<<"EOF"` (does not), `<<-EOF` (strips tabs). */
export interface Heredoc {
  readonly name: string;
  /** The body, each line ending in "\n"; with `<<-` the leading tabs are already removed. */
  readonly content: string;
  /** False when the delimiter was quoted: the body is taken literally. */
  readonly expand: boolean;
  /** True for `<<-`. */
  readonly chomp: boolean;
  /** File descriptor written before `<<` (e.g. `3<<EOF`), when given. */
  readonly fd: number | undefined;
}

/** BuildKit's `RUN --mount` kinds and their options (defaults applied as BuildKit applies them). */
export type RunMount =
  | {
      readonly type: 'bind';
      readonly target: string;
      /** Path in the context, or in `from` (default: its root). */
      readonly source: string;
      /** A stage name or index, or an image; the build context when undefined. */
      readonly from: string | undefined;
      readonly readonly: boolean;
    }
  | {
      readonly type: 'cache';
      readonly target: string;
      /** Cache id (default: the target). */
      readonly id: string;
      readonly sharing: 'shared' | 'private' | 'locked';
      readonly from: string | undefined;
      readonly source: string | undefined;
      readonly readonly: boolean;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
    }
  | {
      readonly type: 'secret';
      readonly id: string;
      /** Path in the container (default /run/secrets/<id>); undefined when only `env` is given. */
      readonly target: string | undefined;
      /** Environment variable receiving the secret instead of (or besides) a file. */
      readonly env: string | undefined;
      readonly required: boolean;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
    }
  | {
      readonly type: 'tmpfs';
      readonly target: string;
      /** Bytes; undefined for the kernel's default. */
      readonly size: number | undefined;
    }
  | {
      readonly type: 'ssh';
      readonly id: string;
      readonly target: string;
      readonly required: boolean;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
    };

export interface KeyValue {
  readonly key: string;
  /** As written (quotes and `$` references still in it; expand.ts removes and substitutes them). */
  readonly value: string;
}

interface Base {
  readonly range: SourceRange;
  /** The instruction's lines as written (continuations and heredoc bodies included). */
  readonly original: string;
}

export interface FromInstruction extends Base {
  readonly kind: 'FROM';
  readonly image: string;
  readonly platform: string | undefined;
  /** The `AS name`, lower-cased as Docker compares it. */
  readonly stageName: string | undefined;
}
export interface RunInstruction extends Base {
  readonly kind: 'RUN';
  readonly command: CommandForm;
  readonly heredocs: readonly Heredoc[];
  readonly mounts: readonly RunMount[];
  readonly network: 'default' | 'none' | 'host' | undefined;
  readonly security: 'sandbox' | 'insecure' | undefined;
}
export interface CmdInstruction extends Base {
  readonly kind: 'CMD';
  readonly command: CommandForm;
}
export interface EntrypointInstruction extends Base {
  readonly kind: 'ENTRYPOINT';
  readonly command: CommandForm;
}
export interface EnvInstruction extends Base {
  readonly kind: 'ENV';
  readonly pairs: readonly KeyValue[];
}
export interface ArgInstruction extends Base {
  readonly kind: 'ARG';
  readonly args: readonly { readonly name: string; readonly defaultValue: string | undefined }[];
}
export interface LabelInstruction extends Base {
  readonly kind: 'LABEL';
  readonly pairs: readonly KeyValue[];
}
export interface ExposeInstruction extends Base {
  readonly kind: 'EXPOSE';
  readonly ports: readonly string[];
}
export interface VolumeInstruction extends Base {
  readonly kind: 'VOLUME';
  readonly paths: readonly string[];
}
export interface UserInstruction extends Base {
  readonly kind: 'USER';
  readonly user: string;
}
export interface WorkdirInstruction extends Base {
  readonly kind: 'WORKDIR';
  readonly path: string;
}
interface CopyLike extends Base {
  readonly sources: readonly string[];
  readonly dest: string;
  /** Heredocs used as sources (`COPY <<EOF /dest`). */
  readonly heredocs: readonly Heredoc[];
  readonly chown: string | undefined;
  readonly chmod: string | undefined;
  readonly link: boolean;
  readonly exclude: readonly string[];
}
export interface CopyInstruction extends CopyLike {
  readonly kind: 'COPY';
  readonly from: string | undefined;
  readonly parents: boolean;
}
export interface AddInstruction extends CopyLike {
  readonly kind: 'ADD';
  readonly checksum: string | undefined;
  readonly keepGitDir: boolean;
}
export interface OnbuildInstruction extends Base {
  readonly kind: 'ONBUILD';
  /** The trigger, parsed (never FROM, MAINTAINER or ONBUILD). */
  readonly trigger: Instruction;
  /** The trigger as written, stored in the image config's OnBuild list. */
  readonly triggerText: string;
}
export interface StopsignalInstruction extends Base {
  readonly kind: 'STOPSIGNAL';
  readonly signal: string;
}
export type HealthcheckInstruction = Base & { readonly kind: 'HEALTHCHECK' } & (
  | { readonly mode: 'none' }
  | {
      readonly mode: 'cmd';
      readonly command: CommandForm;
      /** Nanoseconds; undefined when the flag is not given (the image default applies). */
      readonly intervalNs: number | undefined;
      readonly timeoutNs: number | undefined;
      readonly startPeriodNs: number | undefined;
      readonly startIntervalNs: number | undefined;
      readonly retries: number | undefined;
    });
export interface ShellInstruction extends Base {
  readonly kind: 'SHELL';
  readonly shell: readonly string[];
}
export interface MaintainerInstruction extends Base {
  readonly kind: 'MAINTAINER';
  readonly maintainer: string;
}

export type Instruction =
  | FromInstruction | RunInstruction | CmdInstruction | EntrypointInstruction | EnvInstruction | ArgInstruction
  | LabelInstruction | ExposeInstruction | VolumeInstruction | UserInstruction | WorkdirInstruction
  | CopyInstruction | AddInstruction | OnbuildInstruction | StopsignalInstruction | HealthcheckInstruction
  | ShellInstruction | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

export const INSTRUCTION_KINDS: readonly InstructionKind[] = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
];

/** Parser directives written at the top (`# syntax=…`, `# escape=…`, `# check=…`). */
export interface Directives {
  readonly escape: '\\' | '`';
  readonly syntax: string | undefined;
  readonly check: string | undefined;
}

export interface DockerfileWarning {
  readonly line: number;
  readonly message: string;
}

export interface Dockerfile {
  readonly fileName: string;
  /** The text parsed (kept to locate later errors, e.g. of substitution, with their line). */
  readonly text: string;
  readonly directives: Directives;
  readonly instructions: readonly Instruction[];
  /** Things Docker accepts but warns about (empty continuation lines, deprecated MAINTAINER…). */
  readonly warnings: readonly DockerfileWarning[];
}
