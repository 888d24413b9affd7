// One pull of a given repo@commit at a time across processes (the CLI and the extension share the
// store): a lock file holding the owner's pid, taken over when that process is gone.
import { promises as fs } from "node:fs";
import { EaselError } from "../errors";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function acquirePullLock(lockPath: string, label: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(lockPath, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => fs.rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number((await fs.readFile(lockPath, "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new EaselError("model-missing", `${label} is already being downloaded by Easel process ${pid}: wait for it to finish (or stop it) and try again`, true);
      }
      await fs.rm(lockPath, { force: true });
    }
  }
  throw new EaselError("internal", `cannot take the download lock ${lockPath}: remove it and try again`);
}
