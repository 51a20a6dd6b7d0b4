// The front end of `gantry build`: Dockerfile parsing, substitution and ARG scopes, the stage planner, the
// build context (.dockerignore, walker, source selection and digests) and step cache keys. Pure logic (the
// walker reads files); the executor that runs steps in the engine builds on this.

export type * from './model.js';
export { parseDockerfile, MAX_DOCKERFILE_BYTES } from './parse.js';
export { DockerfileError, formatDockerfileDiagnostic, type DockerfileDiagnostic } from './diagnostics.js';
export { substitute, type Substitution } from './substitute.js';
export { parseBuildArgs, platformArgs, hostPlatform, unusedBuildArgsWarning, PROXY_ARGS, PLATFORM_ARGS } from './args.js';
export { GlobalScope, StageScope, type Applied, type ScopeInput } from './scope.js';
export { planStages, declaredArgs, type BuildPlan, type Stage, type StageDependency } from './stages.js';
export { IgnoreMatcher, parseDockerignore, ignoreFileCandidates } from './dockerignore.js';
export { walkContext, selectSources, resolveSourcePath, loadDockerignore, contextPath, digestSources, DEFAULT_CONTEXT_LIMITS, type ContextEntry, type ContextListing } from './context.js';
export { stepCacheKey, type StepKeyInput } from './cache-key.js';
export { runProgram, type RunProgram } from './run-program.js';
