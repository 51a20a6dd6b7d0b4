// The Node flags gantryd runs with, wherever it is started: in the background by the CLI (src/cli/client.ts), in
// the foreground by `gantry daemon` (bin/gantry, which repeats them: a shell script cannot import this), and by
// the tests' private daemons (test/helpers/daemon.ts). A unit test checks that bin/gantry says the same.

/**
 * `--max-semi-space-size=4` (MiB): V8's young generation otherwise grows to 16 MiB per semi-space under a burst of
 * starts and never gives the pages back. Capped, the daemon's RSS at rest is ~15 MiB lower and a burst of 800
 * starts grows it by 10–17 MiB instead of ~30 (`/work/scratch/slabdiff.mjs 800 none`, interleaved runs, no
 * visible change in the burst's duration); the young generation's scavenges stay cheap at this size.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
