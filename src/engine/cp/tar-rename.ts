// GNU tar's --transform expression renaming a leading `from` (a whole first component) to `to`, escaped for sed.
export function tarRenameExpr(from: string, to: string): string {
  const re = from.replace(/[\\^$.*[\]|/]/g, (c) => `\\${c}`);
  const repl = to.replace(/[\\&|]/g, (c) => `\\${c}`);
  return `--transform=s|^${re}\\(/\\|$\\)|${repl}\\1|`;
}
