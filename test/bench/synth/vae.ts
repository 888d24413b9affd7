// The SD VAE decoder (diffusers AutoencoderKL: post_quant_conv + Decoder), as the vae_decoder export
// has it: latent_sample [b,4,h,w] → sample [b,3,8h,8w]. Mid block: resnet, single-head attention
// over all positions, resnet; up blocks over the reversed block_out_channels with
// layers_per_block + 1 resnets each and nearest ×2 upsampling between them.
import { GraphBuilder } from "./graph";
import { attention, conv2d, fromTokens, groupNorm, resnet, silu, toTokens, upsample } from "./layers";
import type { LatentSize } from "./unet";

export interface VaeDecoderConfig {
  readonly latentChannels: number;
  readonly blockOut: readonly number[];
  readonly layersPerBlock: number;
  readonly groups: number;
  /** The config's scaling_factor (SD 0.18215, SDXL 0.13025); the graph does not use it. */
  readonly scalingFactor?: number;
}

const EPS = 1e-6;

export function buildVaeDecoder(c: VaeDecoderConfig, size: LatentSize): GraphBuilder {
  const g = new GraphBuilder("vae_decoder");
  const latent = g.input("latent_sample", "float32", ["batch", c.latentChannels, "height", "width"], [size.batch, c.latentChannels, size.height, size.width]);
  const top = c.blockOut[c.blockOut.length - 1];
  let h = conv2d(g, latent, c.latentChannels, c.latentChannels, "post_quant_conv", 1);
  g.scope("decoder", () => {
    h = conv2d(g, h, c.latentChannels, top, "conv_in");
    g.scope("mid_block", () => {
      h = resnet(g, h, top, "resnets.0", c.groups, EPS);
      const normed = groupNorm(g, h, c.groups, EPS, "attentions.0.group_norm");
      const tokens = toTokens(g, normed);
      const attended = attention(g, tokens, tokens, top, "attentions.0", { heads: 1, contextWidth: top, qkvBias: true });
      h = g.add(fromTokens(g, attended, h), h);
      h = resnet(g, h, top, "resnets.1", c.groups, EPS);
    });
    const reversed = [...c.blockOut].reverse();
    for (let i = 0; i < reversed.length; i++) {
      g.scope(`up_blocks.${i}`, () => {
        for (let j = 0; j < c.layersPerBlock + 1; j++) h = resnet(g, h, reversed[i], `resnets.${j}`, c.groups, EPS);
        if (i < reversed.length - 1) h = upsample(g, h, "upsamplers.0");
      });
    }
    h = silu(g, groupNorm(g, h, c.groups, EPS, "conv_norm_out"));
    h = conv2d(g, h, c.blockOut[0], 3, "conv_out");
  });
  g.output(h, "sample", "float32", ["batch", 3, "image_height", "image_width"]);
  return g;
}
