// What a RUN step executes, heredocs included, as BuildKit runs it: the exec form as is; `RUN <<EOF` alone
// runs the body as a script (through the shell, or as a file when it starts with `#!`); any other shell form
// gets its heredoc bodies and delimiters appended, so the shell reads them as here-documents.

import type { RunInstruction } from './model.js';

export type RunProgram =
  | { readonly kind: 'exec'; readonly args: readonly string[] }
  /** Run `[...shell, script]` (SHELL in effect, default ["/bin/sh", "-c"]). */
  | { readonly kind: 'shell'; readonly script: string }
  /** Write `content` to a file named `name` (the delimiter), make it executable, and run it (a heredoc starting with `#!`). */
  | { readonly kind: 'file'; readonly name: string; readonly content: string };

const LONE_HEREDOC = /^\s*\d*<<-?(['"]?)([^'"\s]+)\1\s*$/;

export function runProgram(run: RunInstruction): RunProgram {
  if (run.command.form === 'exec') return { kind: 'exec', args: run.command.args };
  const command = run.command.command;
  const lone = LONE_HEREDOC.exec(command);
  const only = run.heredocs[0];
  if (lone !== null && run.heredocs.length === 1 && only !== undefined && only.name === lone[2]) {
    return only.content.startsWith('#!') ? { kind: 'file', name: only.name, content: only.content } : { kind: 'shell', script: only.content };
  }
  return { kind: 'shell', script: command + run.heredocs.map((h) => `\n${h.content}${h.name}`).join('') };
}
