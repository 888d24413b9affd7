// One pull of a given repo@commit at a time across processes (the CLI and the extension share the
// store): a lock file holding the owner's pid, taken over when that process is gone. A model pull
// refuses while another process holds it (`acquirePullLock`); an install that a second window may
// start at the same moment waits for the first instead (`waitForPullLock`).
import { promises as fs } from "node:fs";
import { EaselError } from "../errors";
import { delay } from "./repoInfo";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

type Release = () => Promise<void>;

/** The release function, or the pid of the live process that holds the lock. */
async function tryLock(lockPath: string): Promise<Release | number> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(lockPath, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => fs.rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number((await fs.readFile(lockPath, "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) return pid;
      await fs.rm(lockPath, { force: true });
    }
  }
  throw new EaselError("internal", `cannot take the download lock ${lockPath}: remove it and try again`);
}

export async function acquirePullLock(lockPath: string, label: string): Promise<Release> {
  const got = await tryLock(lockPath);
  if (typeof got === "number") {
    throw new EaselError("model-missing", `${label} is already being downloaded by Easel process ${got}: wait for it to finish (or stop it) and try again`, true);
  }
  return got;
}

export interface WaitOptions {
  readonly signal?: AbortSignal;
  /** Told once, with the holder's pid, when the lock is held by another process. */
  readonly onWait?: (pid: number) => void;
  readonly pollMs?: number;
}

/** Takes the lock, waiting (until `signal` aborts) while another live process holds it. */
export async function waitForPullLock(lockPath: string, options: WaitOptions = {}): Promise<Release> {
  let told = false;
  for (;;) {
    if (options.signal?.aborted) throw new EaselError("cancelled", "cancelled while waiting for another Easel process to finish the same download");
    const got = await tryLock(lockPath);
    if (typeof got !== "number") return got;
    if (!told) options.onWait?.(got);
    told = true;
    // A cancel ends the pause early; the loop's first line turns it into the error.
    await delay(options.pollMs ?? 500, options.signal).catch(() => undefined);
  }
}
