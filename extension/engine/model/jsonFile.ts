import fs from "node:fs/promises";
import { EaselError, firstLine } from "../errors";

export type JsonObject = Record<string, unknown>;

/** Reads a JSON object file; `undefined` when the file is absent, a one-line error when it is malformed. */
export async function readJsonObject(file: string, what: string): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new EaselError("model-invalid", `cannot read ${what} (${firstLine(error)}): check the file's permissions`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EaselError("model-invalid", `${what} is not valid JSON (${firstLine(error)}): download or export the model again`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new EaselError("model-invalid", `${what} is not a JSON object: download or export the model again`);
  }
  return value as JsonObject;
}

export function numberField(obj: JsonObject | undefined, key: string): number | undefined {
  const v = obj?.[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function stringField(obj: JsonObject | undefined, key: string): string | undefined {
  const v = obj?.[key];
  return typeof v === "string" ? v : undefined;
}

export function arrayField(obj: JsonObject | undefined, key: string): readonly unknown[] | undefined {
  const v = obj?.[key];
  return Array.isArray(v) ? v : undefined;
}
