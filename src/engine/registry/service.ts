// The daemon's registry service: pull, push and login checks over one image store, with one token cache.
import { loginDomain, apiHost } from './endpoint.js';
import { pullImage, registryContext, type PullRequest, type PullResult, type RegistryContext } from './pull.js';
import { pushImage, type PushRequest, type PushResult } from './push.js';
import type { Emit } from './progress.js';
import { registrySettingsFromEnv, type RegistrySettings } from './settings.js';
import { RegistryTransport, TokenCache, type Credentials } from './transport.js';
import type { ImageStore } from '../images/store.js';
import { formatReference, parseReference } from '../images/reference.js';
import { Repository } from './repository.js';

export class RegistryService {
  readonly #ctx: RegistryContext;

  constructor(store: ImageStore, settings: RegistrySettings = registrySettingsFromEnv()) {
    this.#ctx = registryContext(store, settings, new TokenCache());
  }

  get settings(): RegistrySettings {
    return this.#ctx.settings;
  }

  pull(req: PullRequest, emit: Emit): Promise<PullResult> {
    return pullImage(this.#ctx, req, emit);
  }

  /** Every tag of a repository (`pull --all-tags`), as the registry lists them. */
  async tags(reference: string, credentials: Credentials | undefined): Promise<string[]> {
    const ref = parseReference(reference);
    const transport = new RegistryTransport(apiHost(ref.domain), this.#ctx.settings, credentials, this.#ctx.tokens);
    try {
      return await new Repository(transport, ref.path, 'pull').tags(formatReference({ ...ref, tag: undefined, digest: undefined }, false));
    } finally {
      transport.close();
    }
  }

  push(req: PushRequest, emit: Emit): Promise<PushResult> {
    return pushImage(this.#ctx, req, emit);
  }

  /** `POST /auth`: the registry accepts these credentials (GET /v2/ through its auth flow). */
  async login(server: string | undefined, creds: Credentials | undefined): Promise<void> {
    const transport = new RegistryTransport(apiHost(loginDomain(server)), this.#ctx.settings, creds, new TokenCache());
    try {
      await transport.ping();
    } finally {
      transport.close();
    }
  }
}
