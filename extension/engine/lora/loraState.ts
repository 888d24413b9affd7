// The LoRAs merged into a loaded model. A request names its set (request.loras and the prompt's
// `<lora:…>` tags); while the set stays the same the patched sessions are reused, so only a switch
// pays (reading the touched weights, the merge, and creating the patched sessions again).

import type { Stats } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { badArgument } from "../errors";
import type { ModelFolder } from "../model/modelFolder";
import type { ModelInfo } from "../model/modelInfo";
import type { ComponentSessions, SessionComponent } from "../onnx/componentSessions";
import { type GraphWeights, readGraphWeights } from "../onnx/graphWeights";
import type { WeightPatch } from "../onnx/patchedGraph";
import type { AppliedLora, LoraRequest } from "../types";
import { type LoraBase, type LoraFile, type LoraUse, loraMerge, openLora, planLoras } from "./apply";
import { LORA_TARGETS, type LoraTarget, type UnetLayout } from "./keys";
import { findLora } from "./library";
import { findCatalogLora } from "../hub/catalog";
import { findStoreFile } from "../hub/singleFile";
import { ModelStore } from "../hub/store";
import { defaultStoreRoot, MERGED_WEIGHTS_FOLDER } from "../hub/storePaths";
import { checkLoraWeight, extractLoraTags } from "./promptTags";
import { a1111LoraHash } from "./hash";

/** The base model a LoRA must be for, from the model's text width (SDXL: its added conditioning). */
export function modelBase(info: ModelInfo): LoraBase | undefined {
  if (info.addedConditioning) return "SDXL";
  if (info.textWidth === 1024) return "SD 2.x";
  if (info.textWidth === 768) return "SD 1.x";
  return undefined;
}

function unetLayout(folder: ModelFolder): UnetLayout {
  const config = folder.unetConfig ?? {};
  const lpb = config["layers_per_block"];
  const channels = config["block_out_channels"];
  return {
    layersPerBlock: typeof lpb === "number" ? lpb : 2,
    blocks: Array.isArray(channels) ? channels.length : 4,
  };
}

interface Wanted {
  readonly ref: string;
  readonly unetWeight: number;
  readonly textWeight: number;
  readonly fromPrompt: boolean;
}

/** A file named by path (it has a folder part or a file extension) rather than by a library name. */
function isPathRef(ref: string): boolean {
  return ref.includes("/") || ref.includes("\\") || /\.(safetensors|ckpt|pt|pth|bin)$/i.test(ref);
}

export class LoraState {
  private key = "[]";
  private warnings: readonly string[] = [];
  /** The sessions the patches were set on: a provider fallback loads new ones, which start unpatched. */
  private sessions: ComponentSessions | undefined;
  /** By graph file (a provider may load a precision variant of a component). */
  private readonly graphs = new Map<string, GraphWeights>();
  private readonly files = new Map<string, { readonly stamp: string; readonly lora: LoraFile; hash?: string }>();

  constructor(
    private readonly folder: ModelFolder,
    private readonly folders: readonly string[],
    /** The model store, whose catalog LoRAs (fast mode's) are named by their catalog id. */
    private readonly storeRoot: string | undefined,
  ) {}

  /** A LoRA reference as a file: a path, a catalog LoRA's id (pulled into the store), or a name in the LoRA folders. */
  private async fileFor(ref: string): Promise<string> {
    if (isPathRef(ref)) return path.resolve(ref);
    const entry = findCatalogLora(ref);
    if (entry) {
      const file = this.storeRoot === undefined ? undefined : await findStoreFile(ModelStore.open(this.storeRoot), entry);
      if (file) return file;
      throw badArgument(`${entry.name} is not downloaded: run 'easel models pull ${entry.id}' (the CLI's generate --fast-lora ${entry.id} fetches it too)`);
    }
    return findLora(ref, this.folders);
  }

  /**
   * Merges the request's LoRAs into the sessions (when the set changed) and returns the prompt the
   * encoder should see (the a1111 tags removed) with what was applied.
   */
  async prepare(
    sessions: ComponentSessions,
    /** The graphs the sessions load. */
    files: ModelFolder["files"],
    info: ModelInfo,
    prompt: string,
    syntax: "plain" | "a1111",
    requested: readonly LoraRequest[],
  ): Promise<{ readonly prompt: string; readonly applied: readonly AppliedLora[]; readonly warnings: readonly string[] }> {
    const tags = syntax === "a1111" ? extractLoraTags(prompt) : { prompt, tags: [] };
    const wanted: Wanted[] = [
      ...requested.map((l) => {
        checkLoraWeight(l.weight, `LoRA ${l.name}`);
        return { ref: l.name, unetWeight: l.weight, textWeight: l.weight, fromPrompt: false };
      }),
      ...tags.tags.map((t) => ({ ref: t.name, unetWeight: t.unetWeight, textWeight: t.textWeight, fromPrompt: true })),
    ];
    const uses: Array<LoraUse & { readonly stamp: string; readonly wanted: Wanted }> = [];
    for (const w of wanted) {
      const file = await this.fileFor(w.ref);
      const { lora, stamp } = await this.open(file);
      uses.push({ lora, unetWeight: w.unetWeight, textWeight: w.textWeight, stamp, wanted: w });
    }
    const key = JSON.stringify(uses.map((u) => [u.lora.file, u.stamp, u.unetWeight, u.textWeight]));
    if (sessions !== this.sessions) {
      this.sessions = sessions;
      this.key = "[]";
    }
    if (key !== this.key) {
      this.key = "[]";
      const patches = new Map<SessionComponent, () => Promise<WeightPatch>>();
      let warnings: readonly string[] = [];
      if (uses.length > 0) {
        const graphs: Partial<Record<LoraTarget, GraphWeights>> = {};
        for (const target of LORA_TARGETS) {
          if (!uses.some((u) => u.lora.modules.some((m) => m.target === target))) continue;
          const graph = await this.graph(target, files[target]);
          if (graph) graphs[target] = graph;
        }
        const plan = planLoras(uses, graphs, { name: info.name, base: modelBase(info), unet: unetLayout(this.folder) });
        warnings = plan.warnings;
        for (const [target, slots] of plan.targets) {
          const graph = graphs[target]!;
          const spillDir = path.join(this.storeRoot ?? defaultStoreRoot(), MERGED_WEIGHTS_FOLDER);
          patches.set(target, async () => ({ graph, ...loraMerge(graph, slots), key: JSON.stringify([key, target]), spillDir }));
        }
      }
      await sessions.setWeightPatches(patches);
      this.key = key;
      this.warnings = warnings;
    }
    const applied: AppliedLora[] = [];
    for (const u of uses) {
      applied.push({
        name: u.wanted.fromPrompt || findCatalogLora(u.wanted.ref) ? u.wanted.ref : u.lora.name,
        file: u.lora.file,
        unetWeight: u.unetWeight,
        textWeight: u.textWeight,
        hash: await this.hash(u.lora.file),
        fromPrompt: u.wanted.fromPrompt,
      });
    }
    return { prompt: tags.prompt, applied, warnings: this.warnings };
  }

  private async open(file: string): Promise<{ lora: LoraFile; stamp: string }> {
    let stat: Stats | undefined;
    try {
      stat = await fs.stat(file);
    } catch {
      stat = undefined;
    }
    const stamp = stat ? `${stat.size}:${stat.mtimeMs}` : "";
    const cached = this.files.get(file);
    if (cached && cached.stamp === stamp && stamp !== "") return { lora: cached.lora, stamp };
    const lora = await openLora(file);
    this.files.set(file, { stamp, lora });
    return { lora, stamp };
  }

  private async hash(file: string): Promise<string> {
    const cached = this.files.get(file)!;
    cached.hash ??= await a1111LoraHash(file);
    return cached.hash;
  }

  private async graph(target: LoraTarget, file: string | undefined): Promise<GraphWeights | undefined> {
    if (!file) return undefined;
    let graph = this.graphs.get(file);
    if (!graph) {
      try {
        graph = await readGraphWeights(file);
      } catch (error) {
        throw badArgument(`cannot apply a LoRA to ${target}/model.onnx: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.graphs.set(file, graph);
    }
    return graph;
  }
}
