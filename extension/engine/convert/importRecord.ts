// What an imported model folder records about itself (`easel-import.json`), and the import's
// progress as the CLI reports it: small and free of ONNX code, so the extension host and the model
// lists read them without loading the converter.
import { promises as fs } from "node:fs";
import path from "node:path";
import type { ImportArchitecture, Prediction } from "./architecture";
import { formatBytes, formatDuration } from "../hub/progress";

export const IMPORT_DTYPES = ["fp16", "fp32"] as const;
export type ImportDtype = (typeof IMPORT_DTYPES)[number];

/** What the store keeps beside an imported folder's files: where it came from. */
export const IMPORT_RECORD = "easel-import.json";
export const IMPORTED_FOLDER = "imported";

export interface ImportProgress {
  readonly stage: "converting" | "verifying";
  /** The component being written. */
  readonly component: string;
  /** Weight bytes written (in the graphs' types) and the total to write. */
  readonly bytes: number;
  readonly total: number;
  /** Seconds left at the rate so far; undefined until there is a rate. */
  readonly eta: number | undefined;
}

export interface ImportRecord {
  readonly source: string;
  readonly architecture: ImportArchitecture;
  readonly baseModel: string;
  readonly prediction: Prediction;
  /** The UNet's and text encoders' precision. */
  readonly dtype: ImportDtype;
  /** The VAE's: fp32 under --dtype fp16 unless the template's VAE is fp16 (absent in records before it was kept). */
  readonly vaeDtype?: ImportDtype;
  readonly vae: "checkpoint" | "template";
  readonly template: string;
  readonly importedAt: string;
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await fs.readFile(file, "utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The record of an imported folder, when the store made it. */
export async function readImportRecord(dir: string): Promise<ImportRecord | undefined> {
  const value = await readJson(path.join(dir, IMPORT_RECORD));
  if (!value || typeof value.baseModel !== "string" || typeof value.source !== "string") return undefined;
  return value as unknown as ImportRecord;
}

/** The line `easel models import --json` writes to stderr for each progress update. */
export function progressLine(p: ImportProgress): string {
  return JSON.stringify({ progress: p });
}

/** One progress line of `easel models import --json` (stderr), or undefined for any other line. */
export function parseProgressLine(line: string): ImportProgress | undefined {
  if (!line.startsWith('{"progress":')) return undefined;
  try {
    const value = (JSON.parse(line) as { progress?: ImportProgress }).progress;
    return value && typeof value.bytes === "number" && typeof value.total === "number" && (value.stage === "converting" || value.stage === "verifying") ? value : undefined;
  } catch {
    return undefined;
  }
}

export function progressMessage(p: ImportProgress): string {
  if (p.stage === "verifying") return "verifying: loading every component and drawing a 1-step 64² image";
  const pct = p.total > 0 ? Math.floor((p.bytes / p.total) * 100) : 100;
  return `${pct}% ${formatBytes(p.bytes)}/${formatBytes(p.total)} ETA ${formatDuration(p.eta)} ${p.component}`;
}
