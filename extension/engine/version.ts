import { version } from "../../package.json";

/** Written into every image's infotext as `Version: easel-<version>`. */
export const EASEL_VERSION = `easel-${version}`;
