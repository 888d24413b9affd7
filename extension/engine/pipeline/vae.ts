import { EaselError } from "../errors";
import type { DecoderOutput } from "../hub/catalog";
import type { ModelSession } from "../onnx/session";
import { floatData, floatTensor } from "../onnx/session";
import type { NoiseSource } from "../schedulers/scheduler";
import { NON_FINITE_ADVICE } from "./tensorMath";

export interface DecodedImage {
  readonly rgb: Uint8Array; // [H,W,3] u8
  readonly width: number;
  readonly height: number;
}

/** Decodes latents to 8-bit RGB (HWC): vae_decoder(latents / scaling) → x/2 + 0.5, clamped, ×255, rounded. */
export async function decodeLatents(
  session: ModelSession,
  latents: Float32Array, // [1,4,h,w] f32
  latentHeight: number,
  latentWidth: number,
  scalingFactor: number,
): Promise<DecodedImage> {
  const scaled = new Float32Array(latents.length); // [1,4,h,w] f32
  for (let i = 0; i < latents.length; i++) scaled[i] = latents[i] / scalingFactor;
  const advice = `an fp16 VAE overflows (SDXL's does): use an fp32 ${session.component} (with force_upcast in its config.json, ${session.component}/model.fp32.onnx is used when present) or a VAE made for fp16 such as madebyollin/sdxl-vae-fp16-fix; else ${NON_FINITE_ADVICE}`;
  return runDecoder(session, scaled, latentHeight, latentWidth, (v) => v / 2 + 0.5, { name: "the VAE decoder", advice });
}

/**
 * TAESD (madebyollin's tiny autoencoder) decodes UNet-space latents as they are, at a small
 * fraction of the full VAE's cost: for previews and drafts. Its image comes out in [0, 1] from
 * taesd.py's graph, in [-1, 1] from an export of diffusers' AutoencoderTiny (`output`). Only the
 * final image (`final`) fails on NaN/Inf pixels; a preview frame shows them as black.
 */
export function decodeLatentsTaesd(
  session: ModelSession,
  latents: Float32Array, // [1,4,h,w] f32
  latentHeight: number,
  latentWidth: number,
  output: DecoderOutput,
  final = false,
): Promise<DecodedImage> {
  const toUnit = output === "minus-one-to-one" ? (v: number) => v / 2 + 0.5 : (v: number) => v;
  return runDecoder(session, latents, latentHeight, latentWidth, toUnit, final ? { name: "the TAESD decoder", advice: NON_FINITE_ADVICE } : undefined);
}

async function runDecoder(
  session: ModelSession,
  input: Float32Array, // [1,4,h,w] f32
  latentHeight: number,
  latentWidth: number,
  toUnit: (v: number) => number,
  /** Set when NaN/Inf pixels must fail the generation (the final image) instead of turning black (a preview). */
  checked: { readonly name: string; readonly advice: string } | undefined,
): Promise<DecodedImage> {
  const port = session.input("latent_sample") ?? session.inputs[0];
  const outputs = await session.run({ [port.name]: floatTensor(port, input, [1, 4, latentHeight, latentWidth]) });
  const name = session.output("sample")?.name ?? session.outputs[0].name;
  const tensor = outputs[name];
  const pixels = floatData(tensor, session.component); // [1,3,H,W] f32
  const [, , height, width] = tensor.dims as readonly number[];
  const plane = width * height;
  const rgb = new Uint8Array(plane * 3); // [H,W,3] u8
  let finite = true;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const p = pixels[c * plane + i];
      finite &&= Number.isFinite(p);
      const v = Math.min(1, Math.max(0, toUnit(p)));
      rgb[i * 3 + c] = roundHalfEven(v * 255);
    }
  }
  // Clamping would turn these into a black or noise image that looks like a result.
  if (!finite && checked !== undefined) {
    throw new EaselError("model-invalid", `${checked.name} produced NaN/Inf pixels from finite latents: ${checked.advice}`);
  }
  return { rgb, width, height };
}

// numpy's round() (used by diffusers' numpy_to_pil) rounds halves to even.
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 === 1 ? r - 1 : r;
}

/** RGB (HWC u8) → [-1, 1] NCHW, as diffusers' VaeImageProcessor.preprocess normalises an image. */
export function rgbToPixels(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const pixels = new Float32Array(plane * 3); // [1,3,H,W] f32
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) pixels[c * plane + i] = (rgb[i * 3 + c] / 255) * 2 - 1;
  }
  return pixels;
}

/**
 * img2img: RGB (HWC u8) → [-1, 1] NCHW → vae_encoder → latents × scaling factor. An encoder that
 * returns `latent_parameters` (mean and log-variance) is sampled with the image's generator.
 */
export function encodeImage(
  session: ModelSession,
  rgb: Uint8Array,
  width: number,
  height: number,
  scalingFactor: number,
  noise: NoiseSource,
): Promise<Float32Array> {
  return encodePixels(session, rgbToPixels(rgb, width, height), width, height, scalingFactor, noise);
}

/** diffusers' `_encode_vae_image`: [-1, 1] pixels → vae_encoder (sampled when it returns mean and log-variance) → × scaling factor. */
export async function encodePixels(
  session: ModelSession,
  pixels: Float32Array, // [1,3,H,W] f32 in [-1, 1]
  width: number,
  height: number,
  scalingFactor: number,
  noise: NoiseSource,
): Promise<Float32Array> {
  const port = session.input("sample") ?? session.inputs[0];
  const outputs = await session.run({ [port.name]: floatTensor(port, pixels, [1, 3, height, width]) });
  const outName = session.outputs[0].name;
  const tensor = outputs[outName];
  const data = floatData(tensor, "vae_encoder");
  const dims = tensor.dims as readonly number[];
  let latents: Float32Array; // [1,4,h,w] f32
  if (outName === "latent_parameters") {
    if (dims[1] !== 8) throw new EaselError("model-invalid", `vae_encoder's latent_parameters has ${dims[1]} channels, expected 8 (mean and log-variance)`);
    const n = data.length / 2;
    const eps = noise.randn([1, 4, dims[2], dims[3]]); // [1,4,h,w] f32
    latents = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      // diffusers' DiagonalGaussianDistribution clamps the log-variance before sampling.
      const logvar = Math.min(20, Math.max(-30, data[n + i]));
      latents[i] = data[i] + Math.exp(0.5 * logvar) * eps[i];
    }
  } else {
    latents = data;
  }
  const out = new Float32Array(latents.length);
  for (let i = 0; i < latents.length; i++) out[i] = latents[i] * scalingFactor;
  return out;
}
