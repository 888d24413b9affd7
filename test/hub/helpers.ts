// Shared set-up for the hub tests: a temporary store, a started fake hub and pull options that
// keep timeouts and retry pauses short so failure paths run in milliseconds.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { runModelsCommand } from "../../extension/engine/cli/modelsCommand";
import { EaselError } from "../../extension/engine/errors";
import { ModelStore } from "../../extension/engine/hub/store";
import type { PullOptions } from "../../extension/engine/hub/pull";
import { MODELS } from "../helpers/paths";
import { FakeHub, hostFolder } from "./fakeHub";

const made: string[] = [];
// Every temporary store goes when the test process ends, whatever the test did with it.
process.on("exit", () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempStore(): ModelStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "easel-store-"));
  made.push(dir);
  return new ModelStore(dir);
}

export async function startHub(...models: string[]): Promise<FakeHub> {
  const hub = await new FakeHub().start();
  for (const m of models) hub.add(hostFolder(`easel-test/${m}`, path.join(MODELS, m), { license: "mit" }));
  return hub;
}

export function fastOptions(hub: FakeHub, store: ModelStore, extra: Partial<PullOptions> = {}): PullOptions {
  return {
    endpoint: hub.hubUrl,
    token: "",
    proxy: "",
    store,
    stallTimeoutMs: 400,
    retries: 3,
    retryDelayMs: 5,
    confirmLicense: async () => true,
    ...extra,
  };
}

/** Every file of the fixture model, compared byte for byte with the pulled folder. */
export function assertSameFiles(fixture: string, pulled: string): string[] {
  const differ: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const full = path.join(d, name);
      if (fs.statSync(full).isDirectory()) walk(full);
      else {
        const rel = path.relative(fixture, full);
        const other = path.join(pulled, rel);
        if (!fs.existsSync(other) || !fs.readFileSync(other).equals(fs.readFileSync(full))) differ.push(rel);
      }
    }
  };
  walk(fixture);
  return differ;
}

/** Top-level entries of the store that look like model folders (complete or not). */
export function modelFolders(store: ModelStore): string[] {
  return fs.existsSync(store.root) ? fs.readdirSync(store.root).filter((n) => n.includes("@")) : [];
}

/** An assert.rejects/throws matcher: one-line EaselError with this code whose message matches. */
export function easelError(code: string, pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof EaselError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"));
    return true;
  };
}

/** `easel models ARGS` in this process against `store`, with what it wrote. */
export async function runModels(store: ModelStore, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d: Buffer) => (stdout += d.toString()));
  err.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await runModelsCommand(args, { stdout: out, stderr: err, stdin: new PassThrough(), store });
  return { code, stdout, stderr };
}
