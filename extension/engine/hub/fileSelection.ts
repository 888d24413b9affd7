// Which files of a repository make the model: the diffusers ONNX components, never the PyTorch
// weights that often sit beside them (they would double the download for nothing).
import { EaselError } from "../errors";
import type { RepoFile } from "./repoInfo";

export interface SelectedFile {
  readonly file: RepoFile;
  /** Path inside the model folder (the repo path without the subfolder). */
  readonly local: string;
}

export const DEFAULT_INCLUDE = [
  "model_index.json", "scheduler/**", "tokenizer/**", "text_encoder/**", "tokenizer_2/**", "text_encoder_2/**", "unet/**", "vae_decoder/**", "vae_encoder/**",
];

const PYTORCH = /(\.(safetensors|ckpt|pt|pth|msgpack|h5)$)|((^|\/)(diffusion_pytorch_model|pytorch_model|flax_model|tf_model)[^/]*$)/;

export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export function selectFiles(files: readonly RepoFile[], subfolder: string | undefined, include: readonly string[] = DEFAULT_INCLUDE): SelectedFile[] {
  const patterns = include.map(globToRegExp);
  const prefix = subfolder ? `${subfolder.replace(/\/+$/, "")}/` : "";
  const out: SelectedFile[] = [];
  for (const file of files) {
    if (!file.path.startsWith(prefix)) continue;
    const local = file.path.slice(prefix.length);
    // A path that could leave the model folder is never written, whatever the server says.
    if (local.split("/").some((p) => p === ".." || p === "" || p === ".") || /^[A-Za-z]:|\\/.test(local)) continue;
    if (PYTORCH.test(local) || !patterns.some((p) => p.test(local))) continue;
    out.push({ file, local });
  }
  return out;
}

const REQUIRED = ["model_index.json", "text_encoder/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx", "scheduler/scheduler_config.json"];

/** Fails before anything is downloaded when the file list cannot make a model folder. */
export function checkLayout(selected: readonly SelectedFile[], label: string): void {
  const have = new Set(selected.map((s) => s.local));
  const missing = REQUIRED.filter((p) => !have.has(p));
  const hasTokenizer = (dir: string) => have.has(`${dir}/tokenizer.json`) || (have.has(`${dir}/vocab.json`) && have.has(`${dir}/merges.txt`));
  if (!hasTokenizer("tokenizer")) missing.push("tokenizer/vocab.json + merges.txt");
  // SDXL: the second text encoder comes with its own tokenizer.
  if (have.has("text_encoder_2/model.onnx") && !hasTokenizer("tokenizer_2")) missing.push("tokenizer_2/vocab.json + merges.txt");
  if (missing.length === 0) return;
  throw new EaselError(
    "model-invalid",
    `${label} is not a diffusers ONNX model: its file list lacks ${missing.join(", ")}; pick a repository with ONNX exports (model.onnx files) or export one with optimum-cli`,
  );
}
