// `--record [--workspace DIR]`, shared by the commands that write images (generate, outpaint,
// rembg, upscale, pack): the folder whose easel-assets.json records them, checked before any work.
import { promises as fs } from "node:fs";
import path from "node:path";
import { readAssets, workspaceRelative } from "../assets/lockfile";
import { badArgument } from "../errors";
import { type ParsedArgs, stringValue } from "./args";

export const RECORD_OPTIONS = {
  record: { type: "boolean" },
  workspace: { type: "string" },
} as const;

/**
 * --record's workspace (default the current folder), or undefined without --record. Every output
 * and input must be inside it, and a corrupt lockfile stops the run now, not after the images are made.
 */
export async function recordWorkspace(values: ParsedArgs["values"], outputs: readonly string[], inputs: readonly (string | undefined)[]): Promise<string | undefined> {
  const dir = stringValue(values, "workspace");
  if (values.record !== true) {
    if (dir !== undefined) throw badArgument("--workspace DIR goes with --record (the folder whose easel-assets.json records the images)");
    return undefined;
  }
  const workspace = path.resolve(dir ?? ".");
  if (!(await fs.stat(workspace).then((s) => s.isDirectory(), () => false))) throw badArgument(`--workspace ${workspace} is not a folder: give the folder that holds (or will hold) easel-assets.json`);
  for (const file of [...outputs, ...inputs.filter((f): f is string => f !== undefined)]) {
    if (workspaceRelative(workspace, file) === undefined) throw badArgument(`--record: ${path.resolve(file)} is outside the workspace ${workspace}; write inside it, or pass --workspace DIR`);
  }
  await readAssets(workspace);
  return workspace;
}
