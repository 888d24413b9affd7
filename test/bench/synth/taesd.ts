// madebyollin's TAESD decoder (taesd.py's Decoder): tanh(x/3)·3, conv 4→C, ReLU, `stages` × (blocks
// of C channels, nearest ×2, conv without bias), one more block and conv C→3. Takes UNet-space
// latents as they are; its output is meant to be read in [0, 1] (unclamped, like the original).
import { GraphBuilder, type Value } from "./graph";
import { conv2d } from "./layers";
import type { LatentSize } from "./unet";

export interface TaesdConfig {
  readonly latentChannels: number;
  readonly channels: number;
  readonly stages: number;
  readonly blocksPerStage: number;
}

// ReLU halves the second moment, so convs feeding a ReLU get He gain √2; the last conv of each
// block is scaled down so the residual sums do not grow block after block.
const HE = Math.SQRT2;

function block(g: GraphBuilder, x: Value, c: number, name: string): Value {
  return g.scope(name, () => {
    let h = g.unary("Relu", conv2d(g, x, c, c, "conv.0", 3, 1, true, HE));
    h = g.unary("Relu", conv2d(g, h, c, c, "conv.2", 3, 1, true, HE));
    h = conv2d(g, h, c, c, "conv.4", 3, 1, true, 0.5);
    return g.unary("Relu", g.add(h, x));
  });
}

/**
 * `diffusers: true` ends the graph as diffusers' DecoderTiny does (x·2 − 1, an image in [-1, 1]),
 * as the ONNX exports of AutoencoderTiny on the Hub do; the weights are the same for a given seed.
 */
export function buildTaesdDecoder(c: TaesdConfig, size: LatentSize, options: { readonly diffusers?: boolean } = {}): GraphBuilder {
  const g = new GraphBuilder("taesd_decoder");
  const latent = g.input("latent_sample", "float32", ["batch", c.latentChannels, "height", "width"], [size.batch, c.latentChannels, size.height, size.width]);
  let layer = 1; // 0 is the tanh clamp
  const next = () => String(layer++);
  let h = g.mul(g.unary("Tanh", g.div(latent, g.scalar(3))), g.scalar(3));
  h = g.unary("Relu", conv2d(g, h, c.latentChannels, c.channels, next(), 3, 1, true, HE));
  layer++; // the ReLU's index in nn.Sequential
  for (let s = 0; s < c.stages; s++) {
    for (let b = 0; b < c.blocksPerStage; b++) h = block(g, h, c.channels, next());
    layer++; // nn.Upsample
    h = conv2d(g, g.upsample2x(h), c.channels, c.channels, next(), 3, 1, false);
  }
  h = block(g, h, c.channels, next());
  h = conv2d(g, h, c.channels, 3, next());
  if (options.diffusers) h = g.add(g.mul(h, g.scalar(2)), g.scalar(-1));
  g.output(h, "sample", "float32", ["batch", 3, "image_height", "image_width"]);
  return g;
}
