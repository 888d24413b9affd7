// Entries made again in this process (the CLI's `easel assets`): the diffusion model loaded here,
// the background remover and the upscaler run here too (upscaleToPng, as `easel upscale` runs it).
// One of each in memory at a time; entries are taken in path order, so most runs load each model once.
import { Engine } from "../engine";
import { backgroundRemoverEntry, type LoadedRemover, matteSpecOf, openRemover } from "../matte/remover";
import { removeBackground } from "../matte/backgroundRemoval";
import { resolveProvider } from "../onnx/providers";
import { SuperResolution } from "../upscale/superResolution";
import { decodeForUpscale, upscaleToPng } from "../upscale/upscaleImage";
import { loraPlaces, type PostRunners, recordedModelDir, recordedToolFile, type RegenerateContext, Regenerator } from "./assetRecord";
import type { Assets, ModelRecord, RemoveBackgroundStep, UpscaleStep } from "./lockfile";
import type { GenerateRequest } from "../types";

/** A loaded thing kept for the next entry that needs the same file. */
interface Held<T> {
  readonly key: string;
  readonly value: T;
  readonly release: () => Promise<void>;
}

export class LocalRegeneration implements PostRunners {
  private engine: Held<Engine> | undefined;
  private remover: Held<LoadedRemover> | undefined;
  private upscaler: Held<SuperResolution> | undefined;

  constructor(private readonly ctx: RegenerateContext) {}

  /** A Regenerator over `assets` that runs everything here. */
  regenerator(assets: Assets): Regenerator {
    return new Regenerator({ workspace: this.ctx.workspace, assets, generate: (model, request, signal) => this.generate(model, request, signal), runners: this, loras: loraPlaces(this.ctx), signal: this.ctx.signal });
  }

  async generate(model: ModelRecord, request: GenerateRequest, signal?: AbortSignal): Promise<Uint8Array> {
    const dir = await recordedModelDir(model, this.ctx);
    if (this.engine?.key !== dir) {
      await this.engine?.release();
      this.engine = undefined;
      const engine = await Engine.load(dir, { provider: this.ctx.provider, modelStore: this.ctx.store.root, loraFolders: this.ctx.loraFolders });
      this.engine = { key: dir, value: engine, release: () => engine.dispose() };
    }
    return (await this.engine.value.generate(request, { signal })).images[0].png;
  }

  async removeBackground(image: Uint8Array, step: RemoveBackgroundStep): Promise<Uint8Array> {
    const file = await recordedToolFile(step.model, "background remover", this.ctx);
    if (this.remover?.key !== file) {
      await this.remover?.release();
      this.remover = undefined;
      const session = await openRemover(file, (await resolveProvider(this.ctx.provider)).provider);
      this.remover = { key: file, value: session, release: () => session.release() };
    }
    // A remover given as a file runs with the catalog's (first) entry's preprocessing, as `easel rembg --model FILE` does.
    const spec = matteSpecOf(backgroundRemoverEntry(step.model.catalogId));
    return removeBackground(image, this.remover.value, spec, { matte: step.matte, format: step.format, remover: step.model.catalogId ?? step.model.name });
  }

  async upscale(image: Uint8Array, step: UpscaleStep, signal?: AbortSignal): Promise<Uint8Array> {
    let sr: SuperResolution | undefined;
    if (step.model) {
      const file = await recordedToolFile(step.model, "upscaler", this.ctx);
      if (this.upscaler?.key !== file) {
        await this.upscaler?.release();
        this.upscaler = undefined;
        const loaded = await SuperResolution.load(file, (await resolveProvider(this.ctx.provider)).provider);
        this.upscaler = { key: file, value: loaded, release: () => loaded.release() };
      }
      sr = this.upscaler.value;
    }
    // The one upscale of `easel upscale` and the engine process, wrapped around only as recorded.
    const rgb = await decodeForUpscale(image, "the recorded source");
    return (await upscaleToPng(rgb, image, step.scale, sr, { tile: step.tile, overlap: step.overlap, wrap: step.wrap === true, signal })).png;
  }

  async dispose(): Promise<void> {
    for (const held of [this.engine, this.remover, this.upscaler]) await held?.release();
    this.engine = this.remover = this.upscaler = undefined;
  }
}
