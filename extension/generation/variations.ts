// "Variations of This Image" (img2img from the image with its stored settings, new seed) and
// "Regenerate" (the same image again: its settings and seed, its prompt syntax, and for an
// inpainted or outpainted image the starting image and mask stored in it, storedInputs.ts), both
// from a PNG's metadata.
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { EaselError } from "../engine/errors";
import type { EngineService } from "../engineService";
import { showError } from "../errorMessages";
import { readImageParameters, readWorkspaceImage } from "../workspaceImages";
import { randomSeed } from "../engine/pipeline/resolveRequest";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import { runPaletteGeneration } from "./generateImageCommand";
import type { PromptHistory } from "./promptHistory";
import { requestFromInfotext } from "./requestFromInfotext";
import { recallRequest, recalledRemoval, STORED_INIT_CHUNK, STORED_MASK_CHUNK } from "./storedInputs";

const VARIATION_STRENGTH = 0.6;

async function storedRequest(uri: vscode.Uri): Promise<WireGenerateRequest> {
  const text = await readImageParameters(uri);
  if (!text) throw new EaselError("image-invalid", `${vscode.workspace.asRelativePath(uri)} has no generation parameters: pick a PNG that Easel (or A1111) made`);
  return requestFromInfotext(text).request;
}

export function registerVariations(engine: EngineService, history: PromptHistory): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand("easel.variations", async (arg?: unknown) => {
      try {
        const uri = commandResource(arg);
        if (!uri) throw new EaselError("bad-argument", "choose a PNG image in the explorer to make variations of");
        const stored = await storedRequest(uri);
        const initImage = await readWorkspaceImage(uri);
        await runPaletteGeneration(engine, { ...stored, seed: randomSeed(), initImage, strength: VARIATION_STRENGTH }, history, false, { inputs: { initImage: { uri } } });
      } catch (error) {
        await showError(error);
      }
    }),
    vscode.commands.registerCommand("easel.regenerate", async (arg?: unknown) => {
      try {
        const uri = commandResource(arg);
        if (!uri) return;
        const png = await readWorkspaceImage(uri);
        const stored = recallRequest(png, vscode.workspace.asRelativePath(uri));
        // A transparent image is made transparent again, with its matte threshold (its parameters say so).
        const removal = recalledRemoval(png);
        // The starting image and mask come from the image's own chunks: its entry names them there.
        const inputs = { ...(stored.initImage ? { initImage: { uri, chunk: STORED_INIT_CHUNK } } : {}), ...(stored.mask ? { mask: { uri, chunk: STORED_MASK_CHUNK } } : {}) };
        // The stored seed makes the same picture; an image without one (not Easel's or A1111's) gets a new one.
        await runPaletteGeneration(engine, { ...stored, seed: stored.seed ?? randomSeed() }, history, false, { inputs, ...(removal ? { transparent: true, matte: removal.matte } : {}) });
      } catch (error) {
        await showError(error);
      }
    }),
  );
}
