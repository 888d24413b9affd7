// Which files of a repository make the model: the diffusers ONNX components, never the PyTorch
// weights that often sit beside them (they would double the download for nothing).
import { EaselError } from "../errors";
import { isSafeRelativePath, quoteValue, relativePathProblem } from "../safePath";
import { MANIFEST_NAME } from "./manifest";
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

/**
 * The files of a listing under `subfolder` that match `include` and no `exclude` pattern (a graph-only
 * template leaves out its weight files). A model's folder skips the PyTorch weights beside its ONNX
 * components; `keepWeights` is for a one-file catalog entry that names its file exactly, which may
 * be such weights (a LoRA is a .safetensors file).
 */
export function selectFiles(
  files: readonly RepoFile[],
  subfolder: string | undefined,
  include: readonly string[] = DEFAULT_INCLUDE,
  options: { readonly keepWeights?: boolean; readonly exclude?: readonly string[] } = {},
): SelectedFile[] {
  const patterns = include.map(globToRegExp);
  const excluded = (options.exclude ?? []).map(globToRegExp);
  const base = subfolder ? subfolder.replace(/\/+$/, "") : undefined;
  const baseProblem = base === undefined ? undefined : relativePathProblem(base);
  if (baseProblem !== undefined) throw new EaselError("internal", `the subfolder ${quoteValue(subfolder)} cannot be used: it ${baseProblem}`);
  const prefix = base ? `${base}/` : "";
  const out: SelectedFile[] = [];
  for (const file of files) {
    if (!file.path.startsWith(prefix)) continue;
    const local = file.path.slice(prefix.length);
    // A path that could leave the model folder is never written, whatever the server says.
    if (!isSafeRelativePath(local)) continue;
    if ((!options.keepWeights && PYTORCH.test(local)) || !patterns.some((p) => p.test(local)) || excluded.some((p) => p.test(local))) continue;
    out.push({ file, local });
  }
  checkNoClash(out);
  return out;
}

/**
 * Two selected names that would land on one path: the same name twice, a file that is also
 * another's folder (`unet` and `unet/model.onnx`), names equal but for case (one file on macOS
 * and Windows), or a name that is another's download part or Easel's own manifest.
 */
function checkNoClash(selected: readonly SelectedFile[]): void {
  const refuse = (what: string) => new EaselError("model-invalid", `the repository lists ${what}: Easel cannot download it into one folder; report it to the repository's owner`);
  const names = new Map<string, string>(); // lower-cased name → name as listed
  for (const { local } of selected) {
    if (local.split("/").pop() === MANIFEST_NAME) throw refuse(`${local}, the name of Easel's own manifest`);
    const other = names.get(local.toLowerCase());
    if (other === local) throw refuse(`${local} twice`);
    if (other !== undefined) throw refuse(`both ${other} and ${local}, the same file on a case-insensitive disk`);
    names.set(local.toLowerCase(), local);
  }
  for (const { local } of selected) {
    const parts = local.toLowerCase().split("/");
    for (let i = 1; i < parts.length; i++) {
      const file = names.get(parts.slice(0, i).join("/"));
      if (file !== undefined) throw refuse(`both ${file} and ${local}, one path as a file and a folder`);
    }
    const part = names.get(`${local.toLowerCase()}.part`);
    if (part !== undefined) throw refuse(`both ${local} and ${part}, the name its download is written to`);
  }
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
