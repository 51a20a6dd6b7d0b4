// `pull_policy` of a service (Compose Specification): when `up` pulls its image. The interval policies
// (`daily`, `weekly`, `every_<duration>`, a duration like `1w2d3h30m10s`) pull when the image's last pull or tag is
// older than that; `refresh` is `always` (compose checks the registry every time).

export type PullDecision = { kind: 'always' } | { kind: 'never' } | { kind: 'missing' } | { kind: 'older-than'; ms: number };

const UNIT_MS: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** A policy as the schema lets it through (an unknown one is `missing`, compose's default). */
export function pullDecision(policy: string | undefined): PullDecision {
  switch (policy) {
    case 'always': case 'refresh': return { kind: 'always' };
    case 'never': case 'build': return { kind: 'never' };
    case 'daily': return { kind: 'older-than', ms: UNIT_MS['d']! };
    case 'weekly': return { kind: 'older-than', ms: UNIT_MS['w']! };
  }
  const every = /^every_((?:[0-9]+[wdhms])+)$/.exec(policy ?? '');
  if (every) {
    let ms = 0;
    for (const [, n, unit] of every[1]!.matchAll(/([0-9]+)([wdhms])/g)) ms += Number(n) * UNIT_MS[unit!]!;
    return { kind: 'older-than', ms };
  }
  return { kind: 'missing' };
}

/** Whether `up` pulls: `present` is the image's last pull/tag time (ms since the epoch), undefined when absent. */
export function shouldPull(decision: PullDecision, present: number | undefined, now: number): boolean {
  switch (decision.kind) {
    case 'always': return true;
    case 'never': return false;
    case 'missing': return present === undefined;
    case 'older-than': return present === undefined || now - present >= decision.ms;
  }
}
