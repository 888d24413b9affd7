// A LoRA file's keys, grouped into modules: which model part (UNet or a text encoder) and which
// module each low-rank pair patches. Formats read:
// - kohya / AUTOMATIC1111: `lora_unet_<path with "_">.lora_down.weight` / `.lora_up.weight` / `.alpha`,
//   `lora_te_…` (SD 1.x/2.x text encoder), `lora_te1_…` / `lora_te2_…` (SDXL's two). LoCon/LyCORIS
//   "lora" modules are the same keys on convolutions (a k×k down, a 1×1 up).
// - diffusers / PEFT: `unet.<path>.lora_A.weight` / `.lora_B.weight` (also `lora.down.weight` /
//   `lora.up.weight`, and the older attention-processor `….processor.to_q_lora.down.weight`), with
//   an optional `.alpha`; `text_encoder.…` / `text_encoder_2.…` for the encoders.
// Other LyCORIS algorithms change weights in other ways and are refused by name.

export const LORA_TARGETS = ["unet", "text_encoder", "text_encoder_2"] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraModule {
  readonly target: LoraTarget;
  /** The module path with every "." and "/" as "_" (kohya's spelling; how graphs are matched). */
  readonly key: string;
  readonly down: string;
  readonly up: string;
  /** The `.alpha` tensor's name, if any (absent: alpha = rank, a scale of 1). */
  readonly alpha: string | undefined;
}

/** LyCORIS key markers of algorithms that are not a plain low-rank pair, and their names. */
const UNSUPPORTED_LYCORIS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.hada_w1_a$|\.hada_t1$/, "LoHa (LyCORIS hadamard product)"],
  [/\.lokr_w1(_a)?$|\.lokr_t2$/, "LoKr (LyCORIS kronecker product)"],
  [/\.lora_mid\.weight$/, "LoCon with CP decomposition (LyCORIS lora_mid)"],
  [/\.on_input$/, "(IA)³"],
  [/\.dora_scale$/, "DoRA (weight-decomposed LoRA)"],
  [/\.a1\.weight$|\.b1\.weight$/, "GLoRA"],
  [/\.oft_blocks$|\.oft_diag$/, "OFT/BOFT"],
  [/\.diff$|\.diff_b$/, "a full weight difference (LyCORIS \"full\")"],
];

export class LoraKeyError extends Error {}

const KOHYA_PREFIXES: ReadonlyArray<readonly [string, LoraTarget]> = [
  ["lora_unet_", "unet"],
  ["lora_te1_", "text_encoder"],
  ["lora_te2_", "text_encoder_2"],
  ["lora_te_", "text_encoder"],
];

const PEFT_PREFIXES: ReadonlyArray<readonly [string, LoraTarget]> = [
  ["unet.", "unet"],
  ["text_encoder_2.", "text_encoder_2"],
  ["text_encoder.", "text_encoder"],
];

const SUFFIXES: ReadonlyArray<readonly [string, "down" | "up"]> = [
  [".lora_down.weight", "down"],
  [".lora_up.weight", "up"],
  [".lora_A.weight", "down"],
  [".lora_B.weight", "up"],
  [".lora.down.weight", "down"],
  [".lora.up.weight", "up"],
  ["_lora.down.weight", "down"],
  ["_lora.up.weight", "up"],
];

function underscored(path: string): string {
  return path.replace(/[./]/g, "_");
}

/** diffusers' old attention-processor LoRA naming: `attn1.processor.to_out_lora` patches `attn1.to_out.0`. */
function processorPath(path: string): string {
  return path.replace(/\.processor\.(to_q|to_k|to_v)$/, ".$1").replace(/\.processor\.to_out$/, ".to_out.0");
}

/** Groups a LoRA file's tensor names into modules; throws LoraKeyError for formats we do not apply. */
export function loraModules(names: Iterable<string>): { modules: LoraModule[]; ignored: string[] } {
  const all = [...names];
  for (const name of all) {
    for (const [pattern, label] of UNSUPPORTED_LYCORIS) {
      if (pattern.test(name)) throw new LoraKeyError(`is a ${label} network (key ${name}); Easel applies plain low-rank LoRA and LoCon only`);
    }
  }
  const byModule = new Map<string, { target: LoraTarget; key: string; down?: string; up?: string; alpha?: string }>();
  const ignored: string[] = [];
  const entry = (target: LoraTarget, key: string) => {
    const id = `${target}:${key}`;
    let e = byModule.get(id);
    if (!e) {
      e = { target, key };
      byModule.set(id, e);
    }
    return e;
  };
  for (const raw of all) {
    const name = raw.replace(/^base_model\.model\./, "");
    let stem: string | undefined;
    let role: "down" | "up" | "alpha" | undefined;
    for (const [suffix, r] of SUFFIXES) {
      if (name.endsWith(suffix)) {
        stem = name.slice(0, -suffix.length);
        role = r;
        break;
      }
    }
    if (!stem && name.endsWith(".alpha")) {
      stem = name.slice(0, -".alpha".length);
      role = "alpha";
    }
    if (!stem || !role) {
      ignored.push(raw);
      continue;
    }
    let placed = false;
    for (const [prefix, target] of KOHYA_PREFIXES) {
      if (stem.startsWith(prefix)) {
        const e = entry(target, stem.slice(prefix.length));
        e[role] = raw;
        placed = true;
        break;
      }
    }
    if (!placed) {
      for (const [prefix, target] of PEFT_PREFIXES) {
        if (stem.startsWith(prefix)) {
          const e = entry(target, underscored(processorPath(stem.slice(prefix.length))));
          e[role] = raw;
          placed = true;
          break;
        }
      }
    }
    if (!placed) ignored.push(raw);
  }
  const modules: LoraModule[] = [];
  for (const e of byModule.values()) {
    if (e.down && e.up) modules.push({ target: e.target, key: e.key, down: e.down, up: e.up, alpha: e.alpha });
    else for (const n of [e.down, e.up, e.alpha]) if (n) ignored.push(n);
  }
  return { modules, ignored };
}

// ---------------------------------------------------------------------------------------------
// SDXL: kohya's SDXL LoRAs name UNet modules as the original (SGM/LDM) UNet does
// (`input_blocks_4_1_transformer_blocks_0_attn1_to_q`), not as diffusers does; diffusers' own
// conversion (`_convert_non_diffusers_lora_to_diffusers` / the LDM→diffusers UNet mapping) turns
// them into diffusers paths. The block numbers depend on the UNet config (layers per block).

export interface UnetLayout {
  /** down/up block count (SDXL 3, SD 1.x 4). */
  readonly blocks: number;
  readonly layersPerBlock: number;
}

/** A kohya key in LDM naming as the diffusers path it patches (underscored), or the key unchanged. */
export function ldmToDiffusersKey(key: string, layout: UnetLayout): string {
  const lpb = layout.layersPerBlock;
  let m = /^input_blocks_(\d+)_(\d+)_(.+)$/.exec(key);
  if (m) {
    const n = Number(m[1]);
    if (n === 0) return key;
    const block = Math.floor((n - 1) / (lpb + 1));
    const layer = (n - 1) % (lpb + 1);
    if (layer === lpb) return `down_blocks_${block}_downsamplers_0_${m[3].replace(/^op/, "conv")}`;
    return `down_blocks_${block}_${m[2] === "0" ? "resnets" : "attentions"}_${layer}_${m[2] === "0" ? resnetPart(m[3]) : m[3]}`;
  }
  m = /^middle_block_(\d+)_(.+)$/.exec(key);
  if (m) {
    const i = Number(m[1]);
    if (i === 1) return `mid_block_attentions_0_${m[2]}`;
    return `mid_block_resnets_${i === 0 ? 0 : 1}_${resnetPart(m[2])}`;
  }
  m = /^output_blocks_(\d+)_(\d+)_(.+)$/.exec(key);
  if (m) {
    const n = Number(m[1]);
    const block = Math.floor(n / (lpb + 1));
    const layer = n % (lpb + 1);
    const part = Number(m[2]);
    if (part === 0) return `up_blocks_${block}_resnets_${layer}_${resnetPart(m[3])}`;
    if (/^conv/.test(m[3])) return `up_blocks_${block}_upsamplers_0_${m[3]}`;
    return `up_blocks_${block}_attentions_${layer}_${m[3]}`;
  }
  return key;
}

/** An LDM ResBlock's parts by their diffusers names. */
function resnetPart(part: string): string {
  return part
    .replace(/^in_layers_2/, "conv1")
    .replace(/^out_layers_3/, "conv2")
    .replace(/^emb_layers_1/, "time_emb_proj")
    .replace(/^skip_connection/, "conv_shortcut");
}

/** Whether a kohya UNet key uses LDM naming (SDXL LoRAs trained with kohya's sd-scripts). */
export function isLdmKey(key: string): boolean {
  return /^(input_blocks|middle_block|output_blocks)_/.test(key);
}
