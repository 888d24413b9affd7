// The free-space check before a pull starts: failing at 98% of a 5 GB download is the worst case.
import { promises as fs } from "node:fs";

export type FreeSpace = (dir: string) => Promise<number>;

export const statfsFreeSpace: FreeSpace = async (dir) => {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
};
