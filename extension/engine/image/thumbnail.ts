// A small PNG of a generated image for an agent to look at (an MCP image content, a language
// model tool's data part): vision models read a few hundred pixels, and the full image can be
// several megabytes of base64 in the conversation.
import sharp from "sharp";

/** The longest side of a preview, in pixels. */
export const PREVIEW_MAX_SIDE = 512;

/** `png` shrunk to fit PREVIEW_MAX_SIDE² (never enlarged), as a PNG without text chunks. */
export async function previewPng(png: Uint8Array, maxSide = PREVIEW_MAX_SIDE): Promise<Buffer> {
  return sharp(png).resize(maxSide, maxSide, { fit: "inside", withoutEnlargement: true }).png({ compressionLevel: 9 }).toBuffer();
}
