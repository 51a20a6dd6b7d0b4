// Daemon-wide registry settings: where registry CAs live (Docker's certs.d layout under the gantry config dir)
// and which registries may be spoken to over plain HTTP besides loopback ones.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_CONFIG_DIR = '/etc/gantry';

export interface RegistrySettings {
  /** `certs.d/HOST[:PORT]/ca.crt` (and any other `*.crt`) are trusted for that registry. */
  certsDir: string;
  /** `host[:port]` entries (GANTRY_INSECURE_REGISTRIES, comma-separated): plain HTTP, or TLS without verification. */
  insecure: readonly string[];
}

export function registrySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): RegistrySettings {
  const config = env['GANTRY_CONFIG'] || DEFAULT_CONFIG_DIR;
  const insecure = (env['GANTRY_INSECURE_REGISTRIES'] ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return { certsDir: join(config, 'certs.d'), insecure };
}

/** The CA certificates for a registry (PEM), or undefined when its certs.d dir has none. */
export function registryCAs(settings: RegistrySettings, host: string): string[] | undefined {
  const dir = join(settings.certsDir, host.replace(/[/\\]/g, '_'));
  if (!existsSync(dir)) return undefined;
  const pems = readdirSync(dir).filter((n) => n.endsWith('.crt') && !n.endsWith('.cert')).sort().map((n) => readFileSync(join(dir, n), 'utf8'));
  return pems.length > 0 ? pems : undefined;
}

export function isInsecure(settings: RegistrySettings, host: string): boolean {
  return settings.insecure.includes(host.toLowerCase());
}
