// The Docker Engine API version gantryd speaks, and the oldest one it still answers (clients negotiate from
// the `Api-Version` header of `/_ping`; every path also takes a `/v1.NN/` prefix).
export const API_VERSION = '1.43';
export const MIN_API_VERSION = '1.24';
export const GANTRY_VERSION = '0.1.0';

/** Headers on every answer, as Docker's daemon sends them. */
export const API_HEADERS: Readonly<Record<string, string>> = {
  'Api-Version': API_VERSION, 'Docker-Experimental': 'false', Ostype: 'linux', Server: `Gantry/${GANTRY_VERSION} (linux)`,
};
