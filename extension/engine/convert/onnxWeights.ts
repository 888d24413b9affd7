// Puts a checkpoint's weights into a template graph: each diffusers parameter is matched to the
// initializer(s) the graph reads it from, and the graph is written with those initializers as
// external data (`model.onnx_data` beside `model.onnx`), streamed one tensor at a time.
//
// Matching goes through the graph, since exporters name weights unevenly:
// - a named initializer (`unet.conv_in.weight`, `transformer.resblocks.0.ln_1.weight`) is the
//   parameter of that name, less leading scopes (`unet.`, `vae.`);
// - an anonymous one (`onnx::MatMul_2471`, GroupNorm's reshaped `onnx::Mul_2465` [C,1,1]) is found
//   through the node that reads it: the node's name is its module's scope
//   (`/unet/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`) and the operator
//   says which parameter (MatMul/Gemm/Conv/Gather/Mul: a weight, Add and the third input: a bias);
//   a MatMul holds a Linear's weight transposed ([in,out]);
// - torch's exporter keeps one initializer for identical weights (often GroupNorm's ones and
//   zeros), read through Identity nodes: every module gets its own initializer here, since a
//   fine-tune's weights differ where the template's were equal.
import { createWriteStream, promises as fs } from "node:fs";
import path from "node:path";
import { onnx } from "onnx-proto";
import { EaselError } from "../errors";
import { toFloat16 } from "../onnx/float16";
import { convertFloatBytes, isWeightSite } from "./graphPrecision";
import { externalDataPath, readTensorBytes, scopeOfNode } from "../onnx/graphWeights";

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const FLOAT_TYPES = new Set<number>([FLOAT, FLOAT16, onnx.TensorProto.DataType.DOUBLE, onnx.TensorProto.DataType.BFLOAT16]);

/** The side file every written graph keeps its weights in (optimum's name). */
export const EXTERNAL_DATA_FILE = "model.onnx_data";

/** What a parameter looks like in torch's layout: enough to place it before reading it. */
export interface ParamShape {
  readonly shape: readonly number[];
}

/** One place in the graph a parameter is read from. */
interface Site {
  readonly node: onnx.INodeProto;
  readonly input: number;
}

export interface Placement {
  readonly param: string;
  /** The template's initializer the parameter replaces (its dims and type). */
  readonly template: onnx.ITensorProto;
  /** The graph holds the torch tensor transposed (a MatMul's [in,out] weight). */
  readonly transposed: boolean;
  readonly sites: Site[];
}

export interface WeightPlan {
  readonly model: onnx.ModelProto;
  readonly placements: readonly Placement[];
  /** Parameters the graph reads. */
  readonly used: ReadonlySet<string>;
  /** Template initializers with no parameter that are weights: the checkpoint lacks them. */
  readonly missing: readonly string[];
}

export async function readOnnxModel(file: string): Promise<onnx.ModelProto> {
  try {
    return onnx.ModelProto.decode(await fs.readFile(file));
  } catch (error) {
    throw new EaselError("model-invalid", `the template graph ${file} does not read as ONNX (${(error as Error).message}): give a template folder exported by optimum or diffusers`);
  }
}

function numel(dims: readonly (number | Long)[]): number {
  return dims.reduce<number>((a, d) => a * Number(d), 1);
}

type Long = { toNumber(): number };

/** `a.b.c` then `b.c` then `c`: exporters put a wrapper's scope (`unet.`, `vae.`) in front of the module's. */
function* suffixes(name: string): Generator<string> {
  let rest = name;
  for (;;) {
    yield rest;
    const dot = rest.indexOf(".");
    if (dot < 0) return;
    rest = rest.slice(dot + 1);
  }
}

function isBiasSite(opType: string, input: number): boolean {
  return opType === "Add" || ((opType === "Conv" || opType === "Gemm") && input === 2);
}

/**
 * Matches `params` (diffusers names, torch shapes) to the graph's initializers. Pure: the graph is
 * changed only by `writeWeights`.
 */
export function planWeights(model: onnx.ModelProto, params: ReadonlyMap<string, ParamShape>): WeightPlan {
  const graph = model.graph;
  if (!graph) throw new EaselError("model-invalid", "the template graph has no graph");
  const initializers = new Map<string, onnx.ITensorProto>();
  for (const t of graph.initializer ?? []) if (t.name) initializers.set(t.name, t);
  // Identity output -> its input, to follow torch's deduplicated weights back to their initializer.
  const identity = new Map<string, string>();
  for (const n of graph.node ?? []) if (n.opType === "Identity" && n.input?.[0] && n.output?.[0]) identity.set(n.output[0], n.input[0]);
  const resolve = (value: string): string | undefined => {
    let v = value;
    for (let i = 0; i < 16 && !initializers.has(v); i++) {
      const next = identity.get(v);
      if (next === undefined) return undefined;
      v = next;
    }
    return initializers.has(v) ? v : undefined;
  };
  // Each module's direct parameters, for the node-scope match.
  const byModule = new Map<string, string[]>();
  for (const name of params.keys()) {
    const dot = name.lastIndexOf(".");
    const module = dot < 0 ? "" : name.slice(0, dot);
    const list = byModule.get(module) ?? [];
    list.push(name);
    byModule.set(module, list);
  }
  // The other way round, exporters may drop a wrapper's scope the parameters have (a CLIPTextModel
  // graph named `encoder.layers.0…` for `text_model.encoder.layers.0…`): a name matches the one
  // parameter (or module) it ends, when only one does.
  const aliases = (names: Iterable<string>): Map<string, string | null> => {
    const out = new Map<string, string | null>();
    for (const name of names) {
      let first = true;
      for (const s of suffixes(name)) {
        if (first) {
          first = false;
          continue;
        }
        out.set(s, out.has(s) && out.get(s) !== name ? null : name);
      }
    }
    return out;
  };
  const paramAliases = aliases(params.keys());
  const moduleAliases = aliases(byModule.keys());
  // An alias stands for a graph name only while no other initializer's name ends the same way: when
  // the checkpoint lacks `down_blocks.0.resnets.0.conv1.weight`, the graph's name for it must not
  // fall through to `0.resnets.0.conv1.weight`, which now ends only `up_blocks.0…` (a lacking weight is
  // reported as lacking, not placed twice).
  const graphSuffixes = new Map<string, number>();
  for (const name of initializers.keys()) for (const s of suffixes(name)) graphSuffixes.set(s, (graphSuffixes.get(s) ?? 0) + 1);
  const paramNamed = (name: string): string | undefined => {
    for (const s of suffixes(name)) if (params.has(s)) return s;
    for (const s of suffixes(name)) {
      if ((graphSuffixes.get(s) ?? 0) > 1) return undefined;
      if (paramAliases.get(s)) return paramAliases.get(s) ?? undefined;
    }
    return undefined;
  };
  const paramAt = (scope: string, opType: string, input: number, size: number): string | undefined => {
    const bias = isBiasSite(opType, input);
    for (const scoped of suffixes(scope)) {
      const module = byModule.has(scoped) ? scoped : (moduleAliases.get(scoped) ?? scoped);
      const candidates = (byModule.get(module) ?? []).filter((p) => {
        const leaf = p.slice(module.length + 1);
        return (bias ? leaf.endsWith("bias") : !leaf.endsWith("bias")) && numel(params.get(p)?.shape ?? []) === size;
      });
      if (candidates.length === 1) return candidates[0];
      const exact = candidates.find((p) => p === `${module}.${bias ? "bias" : "weight"}`);
      if (exact) return exact;
      // A module that calls its child's weights itself (MultiheadAttention's out_proj through F.linear,
      // scoped at `attn`): the one parameter below it that fits.
      const below = [...params.keys()].filter((p) => p.startsWith(`${module}.`) && (bias ? p.endsWith("bias") : !p.endsWith("bias")) && numel(params.get(p)?.shape ?? []) === size);
      if (module !== "" && below.length === 1) return below[0];
    }
    return undefined;
  };

  const placements = new Map<string, Placement>();
  const missing = new Set<string>();
  // Sites at no weight's place that no parameter matched: a folded constant, unless a parameter is read from the same initializer.
  const unmatched: { init: string; node: onnx.INodeProto }[] = [];
  for (const node of graph.node ?? []) {
    if (node.opType === "Identity") continue;
    const opType = node.opType ?? "";
    (node.input ?? []).forEach((value, input) => {
      const init = resolve(value);
      if (init === undefined) return;
      const tensor = initializers.get(init);
      if (!tensor || !FLOAT_TYPES.has(tensor.dataType ?? 0)) return;
      const size = numel(tensor.dims ?? []);
      let param = value === init ? paramNamed(init) : undefined;
      if (param === undefined) {
        const scope = scopeOfNode(node.name);
        if (scope !== undefined) param = paramAt(scope, opType, input, size);
      }
      if (param === undefined) {
        // A float constant the exporter folded (a scale, a mask) stays; a weight (isWeightSite: its
        // initializer must be matched, never kept from the template) must come from the checkpoint.
        if (isWeightSite(opType, input) || /\.(weight|bias)$/.test(init)) missing.add(`${init} (read by ${node.name || opType})`);
        else unmatched.push({ init, node });
        return;
      }
      const gemmTransB = opType === "Gemm" ? (node.attribute ?? []).find((a) => a.name === "transB")?.i : undefined;
      const transposed = (opType === "MatMul" && input === 1) || (opType === "Gemm" && input === 1 && Number(gemmTransB ?? 0) === 0);
      const existing = placements.get(param);
      if (existing) {
        if (existing.template !== tensor && numel(existing.template.dims ?? []) !== size) {
          throw new EaselError("model-invalid", `the template graph reads ${param} as two different tensors (${existing.template.name}, ${init}): this template is not supported`);
        }
        existing.sites.push({ node, input });
        return;
      }
      placements.set(param, { param, template: tensor, transposed, sites: [{ node, input }] });
    });
  }
  // torch shares one initializer among equal weights (a template's GroupNorm scales, all ones,
  // read directly by one module and through Identity by the others): a site reading one that
  // another module's weight comes from is a weight too, which the checkpoint lacks; it would
  // otherwise silently take that module's values.
  const placedTemplates = new Set([...placements.values()].map((p) => p.template.name));
  for (const { init, node } of unmatched) if (placedTemplates.has(init)) missing.add(`${init} (read by ${node.name || node.opType})`);
  return { model, placements: [...placements.values()], used: new Set(placements.keys()), missing: [...missing] };
}

/** The dims a parameter must have in the graph, from its torch shape. */
function checkShape(placement: Placement, shape: readonly number[], key: string): void {
  const dims = (placement.template.dims ?? []).map(Number);
  const want = placement.transposed ? [...shape].reverse() : shape;
  const same = placement.transposed ? dims.length === 2 && dims[0] === want[0] && dims[1] === want[1] : numel(dims) === numel(shape);
  if (!same) {
    throw new EaselError(
      "model-invalid",
      `the checkpoint's ${key} is [${shape.join(",")}] where the template's graph takes [${dims.join(",")}] for ${placement.param}: the checkpoint is a different size of model than the template`,
    );
  }
}

function squeezeTrailingOnes(shape: readonly number[]): readonly number[] {
  let end = shape.length;
  while (end > 2 && shape[end - 1] === 1) end--;
  return shape.slice(0, end);
}

function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length); // [cols,rows] f32
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

export interface WriteOptions {
  /** The torch shape of a parameter and the checkpoint key it comes from (for messages). */
  readonly describe: (param: string) => { readonly shape: readonly number[]; readonly key: string };
  /** A parameter's values, torch layout, read from the checkpoint now. */
  readonly read: (param: string) => Promise<Float32Array>;
  /** Bytes written so far (of this component's weights). */
  readonly onBytes?: (bytes: number) => void;
  readonly signal?: AbortSignal;
  /** The template graph's folder, for template initializers that live in its external data. */
  readonly templateDir: string;
  /**
   * Template tensors retyped by a --dtype conversion (graphPrecision.ts) whose bytes in the template's
   * external data are still in the type given here: converted as they are copied, one at a time.
   */
  readonly externalFrom?: ReadonlyMap<onnx.ITensorProto, number>;
}

/**
 * Every template tensor the written graph keeps from the template's side files has its file there.
 * A missing one in a graph-only template (its weight files left out) is a weight the checkpoint did
 * not supply: said as such, naming the node that reads it.
 */
async function checkTemplateData(kept: readonly onnx.ITensorProto[], graph: onnx.IGraphProto, templateDir: string): Promise<void> {
  // One side file holds thousands of tensors: each file is looked at once.
  const seen = new Map<string, boolean>();
  for (const tensor of kept) {
    const location = tensor.externalData?.find((e) => e.key === "location")?.value ?? "";
    let file: string;
    try {
      file = externalDataPath(templateDir, location);
    } catch {
      throw new EaselError("model-invalid", `the template's ${tensor.name} points outside its folder`);
    }
    let present = seen.get(file);
    if (present === undefined) {
      present = await fs.stat(file).then(
        (s) => s.isFile(),
        () => false,
      );
      seen.set(file, present);
    }
    if (present) continue;
    const name = tensor.name || "a constant";
    // The node that uses it, past torch's Identity copies: its name is the module's scope.
    let reader = (graph.node ?? []).find((n) => (n.input ?? []).includes(tensor.name ?? "") || (n.attribute ?? []).some((a) => a.t === tensor || (a.tensors ?? []).includes(tensor)));
    for (let i = 0; i < 16 && reader && (reader.opType === "Identity" || reader.opType === "Constant"); i++) {
      const value = reader.output?.[0] ?? "";
      reader = (graph.node ?? []).find((n) => (n.input ?? []).includes(value)) ?? reader;
      if (reader.output?.[0] === value) break;
    }
    throw new EaselError(
      "model-invalid",
      `the checkpoint has no weight for ${name} (read by ${reader?.name || reader?.opType || "the graph"}), which the template keeps in ${location}, a file this template does not have (a graph-only template leaves its weights out): the checkpoint is incomplete for this architecture, or import it with a template that has its weights (--template DIR)`,
    );
  }
}

/** Bytes of weights `writeWeights` will write for this plan (each in its graph's type). */
export function plannedBytes(plan: WeightPlan): number {
  return plan.placements.reduce((sum, p) => sum + numel(p.template.dims ?? []) * (p.template.dataType === FLOAT16 ? 2 : 4), 0);
}

/**
 * Writes `model.onnx` and `model.onnx_data` into `outDir`: every placed parameter as external data in
 * its initializer's type (fp16 or fp32), deduplicated initializers split per parameter, the rest of
 * the graph as the template has it.
 */
export async function writeWeights(plan: WeightPlan, outDir: string, options: WriteOptions): Promise<void> {
  const graph = plan.model.graph;
  if (!graph) throw new EaselError("internal", "no graph");
  const initializers = graph.initializer ?? [];
  const taken = new Set<string>([...initializers.map((t) => t.name ?? ""), ...(graph.node ?? []).flatMap((n) => n.output ?? [])]);
  const claimed = new Set<onnx.ITensorProto>();
  // An initializer keeps its name for the parameter it is named after (else the first that reads it).
  const owner = new Map<onnx.ITensorProto, Placement>();
  for (const p of plan.placements) if ([...suffixes(p.template.name ?? "")].includes(p.param)) owner.set(p.template, p);
  for (const p of plan.placements) if (!owner.has(p.template)) owner.set(p.template, p);
  // Template tensors no parameter replaces but whose bytes live outside the graph (initializers, and
  // Constant nodes' values, which optimum moves out too) are copied from the template's side file:
  // each must be there before anything is written, since a graph-only template left its weight
  // files out and a checkpoint missing a weight would otherwise fail after gigabytes.
  const placed = new Set(plan.placements.map((p) => p.template));
  const constants = (graph.node ?? []).flatMap((n) => (n.attribute ?? []).flatMap((a) => [...(a.t ? [a.t] : []), ...(a.tensors ?? [])]));
  const kept = [...initializers, ...constants].filter((t) => !placed.has(t) && t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  await checkTemplateData(kept, graph, options.templateDir);
  const data = createWriteStream(path.join(outDir, EXTERNAL_DATA_FILE));
  const closed = new Promise<void>((resolve, reject) => {
    data.on("close", resolve);
    data.on("error", reject);
  });
  let offset = 0;
  // Every tensor written goes the same way: its bytes appended to the side file, the tensor pointed at them.
  const append = async (tensor: onnx.ITensorProto, bytes: Uint8Array): Promise<void> => {
    tensor.externalData = [
      { key: "location", value: EXTERNAL_DATA_FILE },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(bytes.length) },
    ];
    await new Promise<void>((resolve, reject) => {
      data.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
    offset += bytes.length;
  };
  try {
    for (const placement of plan.placements) {
      if (options.signal?.aborted) throw new EaselError("cancelled", "import cancelled");
      const described = options.describe(placement.param);
      // LDM keeps the VAE's attention projections as 1×1 convolutions ([C,C,1,1]): a Linear's weight for the graph.
      const shape = placement.transposed ? squeezeTrailingOnes(described.shape) : described.shape;
      checkShape(placement, shape, described.key);
      let values = await options.read(placement.param); // torch layout f32
      if (placement.transposed) values = transpose2d(values, shape[0], shape[1]);
      const type = placement.template.dataType === FLOAT16 ? FLOAT16 : FLOAT;
      if (placement.template.dataType !== FLOAT16 && placement.template.dataType !== FLOAT) {
        throw new EaselError("model-unsupported", `the template keeps ${placement.param} as ONNX type ${placement.template.dataType}: only fp16 and fp32 templates are supported`);
      }
      const typed = type === FLOAT16 ? toFloat16(values) : values;
      const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
      // Little-endian hosts only (every platform ONNX Runtime ships for): the typed array is the wire format.
      // The first parameter reading an initializer keeps its name; the others get their own.
      let tensor: onnx.ITensorProto;
      if (owner.get(placement.template) === placement) {
        tensor = placement.template;
        claimed.add(tensor);
      } else {
        let name = placement.param;
        for (let i = 2; taken.has(name); i++) name = `${placement.param}_${i}`;
        taken.add(name);
        tensor = { name, dims: placement.template.dims, dataType: type };
        initializers.push(tensor);
        claimed.add(tensor);
        for (const site of placement.sites) if (site.node.input) site.node.input[site.input] = name;
      }
      tensor.dataType = type;
      delete tensor.rawData;
      tensor.floatData = [];
      tensor.int32Data = [];
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      await append(tensor, bytes);
      options.onBytes?.(bytes.length);
    }
    for (const tensor of kept) {
      const entry = (k: string) => tensor.externalData?.find((e) => e.key === k)?.value ?? undefined;
      const location = entry("location") ?? "";
      let file: string;
      try {
        file = externalDataPath(options.templateDir, location);
      } catch {
        throw new EaselError("model-invalid", `the template's ${tensor.name} points outside its folder`);
      }
      let bytes: Uint8Array;
      try {
        const start = Number(entry("offset") ?? 0);
        const length = entry("length") !== undefined ? Number(entry("length")) : (await fs.stat(file)).size - start;
        const name = tensor.name || "a constant";
        bytes = (await readTensorBytes([{ name, data: { file, offset: start, length, external: true } }])).get(name)!;
      } catch {
        throw new EaselError("model-invalid", `the template's graph needs ${tensor.name || "a constant"} from ${location}, which does not hold it (a damaged or truncated side file): use a complete template (--template DIR)`);
      }
      const from = options.externalFrom?.get(tensor);
      if (from !== undefined && from !== tensor.dataType) bytes = convertFloatBytes(bytes, from, tensor.dataType ?? 0);
      await append(tensor, bytes);
    }
  } finally {
    data.end();
    await closed;
  }
  graph.initializer = initializers;
  await fs.writeFile(path.join(outDir, "model.onnx"), onnx.ModelProto.encode(plan.model).finish());
}
