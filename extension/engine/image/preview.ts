// Live previews without an extra model: the SD VAE's latent space is close to a linear map of RGB,
// so 4 latent channels × a 4×3 matrix give a recognisable (1/8-size) picture at the cost of a few
// multiply-adds per latent cell — the "cheap approximation" A1111 and ComfyUI ship.
import sharp from "sharp";

/** A1111's cheap-approximation coefficients for the SD 1.x / 2.x VAE (latent channel → R, G, B). */
const SD_LATENT_RGB: readonly (readonly [number, number, number])[] = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

export interface PreviewFrame {
  readonly image: number;
  readonly step: number;
  readonly steps: number;
  readonly rgb: Uint8Array; // [h,w,3] u8
  readonly width: number;
  readonly height: number;
}

/** Latents (UNet space, [1,4,h,w] f32) to an h×w RGB picture. */
export function latentPreviewRgb(latents: Float32Array, latentHeight: number, latentWidth: number): Uint8Array {
  const plane = latentHeight * latentWidth;
  const rgb = new Uint8Array(plane * 3); // [h,w,3] u8
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < 4; k++) v += latents[k * plane + i] * SD_LATENT_RGB[k][c];
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
