// What `npm run` adds to its scripts' environment, and how to take it out again for a child npm
// that must behave as if a user had typed it (the e2e tools' installs, the install test).
import path from "node:path";

/**
 * `env` without what `npm run` adds for its scripts: lower-case `npm_*` variables (npm's resolved
 * config, the package and lifecycle), INIT_CWD, NODE and the `node_modules/.bin` (and npm's
 * node-gyp-bin) folders it puts first on PATH. Upper-case NPM_CONFIG_* set by the user stay.
 */
export function withoutNpmRunEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith("npm_") || k === "INIT_CWD" || k === "NODE") continue;
    out[k] = v;
  }
  const pathKey = Object.keys(out).find((k) => k.toUpperCase() === "PATH");
  if (pathKey && out[pathKey]) {
    out[pathKey] = out[pathKey]
      .split(path.delimiter)
      .filter((d) => !/[\\/]node_modules[\\/]\.bin$/.test(d) && !/[\\/]node-gyp-bin$/.test(d))
      .join(path.delimiter);
  }
  return out;
}
