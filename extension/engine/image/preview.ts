// Live previews without an extra model: the SD VAE's latent space is close to a linear map of RGB,
// so 4 latent channels × a 4×3 matrix give a recognisable (1/8-size) picture at the cost of a few
// multiply-adds per latent cell — the "cheap approximation" A1111 and ComfyUI ship.
import sharp from "sharp";

type Rgb3 = readonly [number, number, number];

/** A latent space's linear map to RGB: latent channel → R, G, B, plus a bias per colour. */
interface LatentRgbMap {
  readonly factors: readonly Rgb3[];
  readonly bias: Rgb3;
}

/** The VAE families whose latents look different: SD 1.x / 2.x, and SDXL's retrained VAE. */
export type LatentSpace = "sd" | "sdxl";

const LATENT_RGB: Readonly<Record<LatentSpace, LatentRgbMap>> = {
  // A1111's cheap-approximation coefficients for the SD 1.x / 2.x VAE.
  sd: {
    factors: [
      [0.298, 0.207, 0.208],
      [0.187, 0.286, 0.173],
      [-0.158, 0.189, 0.264],
      [-0.184, -0.271, -0.473],
    ],
    bias: [0, 0, 0],
  },
  // ComfyUI's latent_formats.SDXL coefficients and bias.
  sdxl: {
    factors: [
      [0.3651, 0.4232, 0.4341],
      [-0.2533, -0.0042, 0.1068],
      [0.1076, 0.1111, -0.0362],
      [-0.3165, -0.2492, -0.2188],
    ],
    bias: [0.1084, -0.0175, -0.0011],
  },
};

export interface PreviewFrame {
  readonly image: number;
  readonly step: number;
  readonly steps: number;
  readonly rgb: Uint8Array; // [h,w,3] u8
  readonly width: number;
  readonly height: number;
}

/** Latents (UNet space, [1,4,h,w] f32) to an h×w RGB picture. */
export function latentPreviewRgb(latents: Float32Array, latentHeight: number, latentWidth: number, space: LatentSpace = "sd"): Uint8Array {
  const { factors, bias } = LATENT_RGB[space];
  const plane = latentHeight * latentWidth;
  const rgb = new Uint8Array(plane * 3); // [h,w,3] u8
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = bias[c];
      for (let k = 0; k < 4; k++) v += latents[k * plane + i] * factors[k][c];
      rgb[i * 3 + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
    }
  }
  return rgb;
}

/** A fast PNG of a preview frame (low compression: it lives for one step). */
export async function encodePreviewPng(frame: PreviewFrame): Promise<Uint8Array> {
  return sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer();
}
