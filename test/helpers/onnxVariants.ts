// Rewrites the tiny conformance models into the other layouts real model repositories use for the
// same weights (external weight files, fp16 or int64 ports, static shapes, other pipeline class
// names, a missing VAE encoder), so tests can check that the engine reads what each graph declares
// instead of assuming our fixtures' layout. Every rewrite keeps the arithmetic of the original
// graph: only where the bytes live, or what crosses the graph's boundary, changes.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { onnx } from "onnx-proto";
import { MODELS } from "./paths";

export type ComponentName = "text_encoder" | "text_encoder_2" | "unet" | "vae_decoder" | "vae_encoder";

const { DataType } = onnx.TensorProto;

/** Copies `test/fixtures/conformance/models/<fixture>` into a new temp folder named after the fixture (the model's name in infotexts). */
export async function copyFixtureModel(fixture: string, parent: string): Promise<string> {
  const dir = path.join(await fs.mkdtemp(path.join(parent, `${fixture}-`)), fixture);
  await fs.cp(path.join(MODELS, fixture), dir, { recursive: true });
  return dir;
}

/** A temp folder for one test file's variants; remove it with `fs.rm(dir, { recursive: true })`. */
export function makeVariantRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "easel-layouts-"));
}

export async function readGraph(file: string): Promise<onnx.ModelProto> {
  return onnx.ModelProto.decode(await fs.readFile(file));
}

export async function writeGraph(file: string, model: onnx.ModelProto): Promise<void> {
  await fs.writeFile(file, onnx.ModelProto.encode(model).finish());
}

/** Decodes `<dir>/<component>/model.onnx`, lets `edit` change it (and write files beside it), writes it back. */
export async function rewriteComponent(
  dir: string,
  component: ComponentName,
  edit: (model: onnx.ModelProto, componentDir: string) => void | Promise<void>,
): Promise<void> {
  const file = path.join(dir, component, "model.onnx");
  const model = await readGraph(file);
  await edit(model, path.dirname(file));
  await writeGraph(file, model);
}

function graphOf(model: onnx.ModelProto): onnx.IGraphProto {
  if (!model.graph) throw new Error("the model has no graph");
  return model.graph;
}

// ---------------------------------------------------------------------------------------------
// External data. Graphs over protobuf's 2 GB limit (every real SD UNet in fp32) keep their weights
// in a side file: TensorProto.data_location = EXTERNAL and external_data {location, offset, length}
// pointing into it. diffusers' convert_stable_diffusion_checkpoint_to_onnx.py writes `weights.pb`
// with every initializer in it; optimum writes `model.onnx_data` and leaves tensors under its
// size_threshold (1 KiB) inline, and with convert_attribute=True also moves large Constant-node
// tensors out.

export interface ExternalDataOptions {
  /** The side file's name, relative to model.onnx (ONNX Runtime resolves it from the graph's folder). */
  readonly location: string;
  /** Tensors smaller than this many bytes stay inline (onnx.save's size_threshold); 0 moves every one. */
  readonly sizeThreshold: number;
  /** Also move the tensors of Constant nodes (onnx.save's convert_attribute). */
  readonly convertAttributes: boolean;
  /** Each tensor starts at a multiple of this in the file (onnx >= 1.15 aligns large tensors for mmap). */
  readonly alignment: number;
}

export const DIFFUSERS_EXTERNAL_DATA: ExternalDataOptions = { location: "weights.pb", sizeThreshold: 0, convertAttributes: false, alignment: 1 };
export const OPTIMUM_EXTERNAL_DATA: ExternalDataOptions = { location: "model.onnx_data", sizeThreshold: 1024, convertAttributes: true, alignment: 4096 };

/** The tensors `moveTensorsToExternalData` may move: initializers, then (optionally) Constant-node values. */
function movableTensors(graph: onnx.IGraphProto, convertAttributes: boolean): onnx.ITensorProto[] {
  const tensors: onnx.ITensorProto[] = [...(graph.initializer ?? [])];
  if (convertAttributes) {
    for (const node of graph.node ?? []) {
      for (const attribute of node.attribute ?? []) {
        if (attribute.g || (attribute.graphs?.length ?? 0) > 0) throw new Error(`${node.opType} has a subgraph: not handled by this helper`);
        if (attribute.t) tensors.push(attribute.t);
      }
    }
  }
  return tensors;
}

/**
 * Moves tensors' raw bytes into one side file, as onnx.save(save_as_external_data=True,
 * all_tensors_to_one_file=True) does, and returns that file's bytes for the caller to write
 * beside model.onnx. The graph keeps each tensor's name, type and dims; only its data moves.
 */
export function moveTensorsToExternalData(model: onnx.ModelProto, options: ExternalDataOptions): { bytes: Buffer; moved: number } {
  const chunks: Buffer[] = [];
  let size = 0;
  let moved = 0;
  for (const tensor of movableTensors(graphOf(model), options.convertAttributes)) {
    const raw = tensor.rawData;
    if (!raw || raw.length === 0) {
      // Our fixtures store every weight as raw_data; typed fields (float_data…) would need packing first.
      if ((tensor.floatData?.length ?? 0) + (tensor.int64Data?.length ?? 0) + (tensor.int32Data?.length ?? 0) > 0) {
        throw new Error(`tensor ${tensor.name} keeps its values in typed fields, not raw_data: not handled by this helper`);
      }
      continue;
    }
    if (raw.length < options.sizeThreshold) continue;
    const pad = (options.alignment - (size % options.alignment)) % options.alignment;
    if (pad > 0) {
      chunks.push(Buffer.alloc(pad));
      size += pad;
    }
    chunks.push(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
    tensor.externalData = [
      { key: "location", value: options.location },
      { key: "offset", value: String(size) },
      { key: "length", value: String(raw.length) },
    ];
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    // Absent, not empty: onnx.proto is proto2, where an empty raw_data would still count as set.
    delete tensor.rawData;
    size += raw.length;
    moved++;
  }
  return { bytes: Buffer.concat(chunks, size), moved };
}

/** Where a graph's initializers keep their bytes: how many are external, how many inline (and their bytes). */
export function weightPlacement(model: onnx.ModelProto): { external: number; inline: number; inlineBytes: number } {
  let external = 0;
  let inline = 0;
  let inlineBytes = 0;
  for (const tensor of graphOf(model).initializer ?? []) {
    if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      external++;
    } else {
      inline++;
      inlineBytes += tensor.rawData?.length ?? 0;
    }
  }
  return { external, inline, inlineBytes };
}

/** Rewrites one component so its weights live in `options.location` beside model.onnx; returns how many tensors moved. */
export async function externalizeWeights(dir: string, component: ComponentName, options: ExternalDataOptions): Promise<number> {
  let moved = 0;
  await rewriteComponent(dir, component, async (model, componentDir) => {
    const out = moveTensorsToExternalData(model, options);
    moved = out.moved;
    await fs.writeFile(path.join(componentDir, options.location), out.bytes);
  });
  return moved;
}

// ---------------------------------------------------------------------------------------------
// Port dtypes. Exporters often differ from our fixtures only at the graph's boundary: fp16 exports
// (optimum --fp16, Olive) take and return float16 tensors; transformers' CLIP export takes int64
// token ids where our fixtures take int32. Re-declaring a port and adding a Cast next to it keeps
// the original graph's arithmetic, so the image only changes by what the boundary dtype rounds.

function tensorTypeOf(port: onnx.IValueInfoProto): onnx.TypeProto.ITensor {
  const tensorType = port.type?.tensorType;
  if (!tensorType || tensorType.elemType === undefined || tensorType.elemType === null) throw new Error(`${port.name} is not a typed tensor port`);
  return tensorType;
}

/** Renames every use of a value in the graph's nodes (no subgraphs in our fixtures: checked). */
function renameValue(graph: onnx.IGraphProto, from: string, to: string): void {
  for (const node of graph.node ?? []) {
    if ((node.attribute ?? []).some((a) => a.g || (a.graphs?.length ?? 0) > 0)) throw new Error(`${node.opType} has a subgraph: not handled by this helper`);
    node.input = (node.input ?? []).map((n) => (n === from ? to : n));
    node.output = (node.output ?? []).map((n) => (n === from ? to : n));
  }
  for (const info of graph.valueInfo ?? []) if (info.name === from) info.name = to;
}

function castNode(input: string, output: string, to: number): onnx.INodeProto {
  return {
    input: [input],
    output: [output],
    name: `easel_test_cast_${output}`,
    opType: "Cast",
    attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: to }],
  };
}

/**
 * Declares graph input `name` as `elemType` and converts it back to the type the graph was built
 * for with a Cast as its first node, the way an fp16 export with fp32-kept ops (or an int64-ids
 * CLIP export) looks from outside.
 */
export function declareInputAs(model: onnx.ModelProto, name: string, elemType: number): void {
  const graph = graphOf(model);
  const port = (graph.input ?? []).find((p) => p.name === name);
  if (!port) throw new Error(`no graph input ${name}`);
  const tensorType = tensorTypeOf(port);
  const original = tensorType.elemType!;
  if (original === elemType) throw new Error(`${name} is already of type ${elemType}`);
  const inner = `${name}__as_declared_${original}`;
  renameValue(graph, name, inner);
  tensorType.elemType = elemType;
  graph.node = [castNode(name, inner, original), ...(graph.node ?? [])];
}

/** Declares graph output `name` as `elemType`, with a Cast as the last node from what the graph computes. */
export function declareOutputAs(model: onnx.ModelProto, name: string, elemType: number): void {
  const graph = graphOf(model);
  const port = (graph.output ?? []).find((p) => p.name === name);
  if (!port) throw new Error(`no graph output ${name}`);
  const tensorType = tensorTypeOf(port);
  const original = tensorType.elemType!;
  if (original === elemType) throw new Error(`${name} is already of type ${elemType}`);
  const inner = `${name}__as_computed_${original}`;
  renameValue(graph, name, inner);
  tensorType.elemType = elemType;
  graph.node = [...(graph.node ?? []), castNode(inner, name, elemType)];
}

export function portType(model: onnx.ModelProto, name: string): number | undefined {
  const graph = graphOf(model);
  const port = [...(graph.input ?? []), ...(graph.output ?? [])].find((p) => p.name === name);
  return port?.type?.tensorType?.elemType ?? undefined;
}

/** An fp16-I/O UNet: sample, encoder_hidden_states, a float timestep and out_sample in float16 (timestep_cond, SDXL's text_embeds and time_ids too when present). */
export function unetFloat16Ports(model: onnx.ModelProto): void {
  for (const input of ["sample", "encoder_hidden_states", "timestep", "timestep_cond", "text_embeds", "time_ids"]) {
    if (portType(model, input) === DataType.FLOAT) declareInputAs(model, input, DataType.FLOAT16);
  }
  declareOutputAs(model, "out_sample", DataType.FLOAT16);
}

/** An fp16-I/O VAE decoder: latent_sample in, sample out. */
export function vaeDecoderFloat16Ports(model: onnx.ModelProto): void {
  declareInputAs(model, "latent_sample", DataType.FLOAT16);
  declareOutputAs(model, "sample", DataType.FLOAT16);
}

/** An fp16-I/O VAE encoder: sample in, latent_sample / latent_parameters out. */
export function vaeEncoderFloat16Ports(model: onnx.ModelProto): void {
  declareInputAs(model, "sample", DataType.FLOAT16);
  for (const output of graphOf(model).output ?? []) declareOutputAs(model, output.name!, DataType.FLOAT16);
}

/** An fp16 text encoder's outputs (its input stays integer ids). */
export function textEncoderFloat16Ports(model: onnx.ModelProto): void {
  for (const output of graphOf(model).output ?? []) declareOutputAs(model, output.name!, DataType.FLOAT16);
}

/** transformers' CLIP export: input_ids as int64 (our fixtures take int32). */
export function textEncoderInt64Ids(model: onnx.ModelProto): void {
  declareInputAs(model, "input_ids", DataType.INT64);
}

/**
 * Keeps only the named graph outputs, in the given order: an export that declares fewer outputs
 * (a CLIP exported without output_hidden_states) or lists them in another order.
 */
export function keepOutputs(model: onnx.ModelProto, names: readonly string[]): void {
  const graph = graphOf(model);
  const byName = new Map((graph.output ?? []).map((o) => [o.name, o]));
  graph.output = names.map((name) => {
    const port = byName.get(name);
    if (!port) throw new Error(`no graph output ${name}`);
    return port;
  });
}

export function outputNames(model: onnx.ModelProto): string[] {
  return (graphOf(model).output ?? []).map((o) => o.name!);
}

/** Multiplies graph output `name` by `factor` (a Mul before the output): e.g. pixels an fp16 VAE overflows to infinity. */
export function scaleOutput(model: onnx.ModelProto, name: string, factor: number): void {
  const graph = graphOf(model);
  if (!(graph.output ?? []).some((p) => p.name === name)) throw new Error(`no graph output ${name}`);
  const inner = `${name}__unscaled`;
  renameValue(graph, name, inner);
  const factorName = `${name}__factor`;
  graph.initializer = [...(graph.initializer ?? []), { name: factorName, dataType: DataType.FLOAT, dims: [], floatData: [factor] }];
  graph.node = [...(graph.node ?? []), { input: [inner, factorName], output: [name], name: `easel_test_scale_${name}`, opType: "Mul" }];
}

// ---------------------------------------------------------------------------------------------
// Static shapes. Exports made for one use (mobile, TensorRT, `optimum --batch_size 1 --height 512
// --width 512`) fix dims that ours leave symbolic; ONNX Runtime then rejects any other shape.

/**
 * Sets the given dims (index → size) of a graph input or output to fixed values, or, for a string,
 * to a symbolic (dynamic) dim of that name, as exports that trace with dynamic axes declare it.
 */
export function fixPortDims(model: onnx.ModelProto, name: string, dims: Readonly<Record<number, number | string>>): void {
  const graph = graphOf(model);
  const port = [...(graph.input ?? []), ...(graph.output ?? [])].find((p) => p.name === name);
  if (!port) throw new Error(`no graph port ${name}`);
  const shape = tensorTypeOf(port).shape;
  if (!shape?.dim) throw new Error(`${name} has no shape`);
  for (const [index, size] of Object.entries(dims)) {
    const i = Number(index);
    if (i >= shape.dim.length) throw new Error(`${name} has no dim ${i}`);
    // A fresh Dimension: dim_value and dim_param are a oneof, so the old dim_param must go.
    shape.dim[i] = onnx.TensorShapeProto.Dimension.create(typeof size === "string" ? { dimParam: size } : { dimValue: size });
  }
}

/**
 * A UNet exported for one batch size: 1 (optimum --batch_size 1, mobile exports: CFG's two rows
 * cannot go in as one batch) or 2 (Olive's static-dims exports, sized for CFG).
 */
export function unetFixedBatch(model: onnx.ModelProto, batch: number): void {
  for (const name of ["sample", "timestep", "encoder_hidden_states", "out_sample"]) fixPortDims(model, name, { 0: batch });
  for (const name of ["timestep_cond", "text_embeds", "time_ids"]) {
    if (portType(model, name) !== undefined) fixPortDims(model, name, { 0: batch });
  }
}

/** A text encoder exported for one batch size (static-shape exports fix it with the UNet's). */
export function textEncoderFixedBatch(model: onnx.ModelProto, batch: number): void {
  for (const port of [...(graphOf(model).input ?? []), ...(graphOf(model).output ?? [])]) fixPortDims(model, port.name!, { 0: batch });
}

/** A UNet exported for one latent size only (e.g. 8x8 latents = 64x64 pixels). */
export function unetFixedLatentSize(model: onnx.ModelProto, latentHeight: number, latentWidth: number): void {
  for (const name of ["sample", "out_sample"]) fixPortDims(model, name, { 2: latentHeight, 3: latentWidth });
}

/** Graph input dims as declared: numbers for fixed dims, names for symbolic ones. */
export function portDims(model: onnx.ModelProto, name: string): (number | string)[] {
  const graph = graphOf(model);
  const port = [...(graph.input ?? []), ...(graph.output ?? [])].find((p) => p.name === name);
  return (port?.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue ?? 0)));
}

// ---------------------------------------------------------------------------------------------
// Folder-level differences.

/** Sets model_index.json's `_class_name`: optimum writes ORTStableDiffusionPipeline, some converters the PyTorch class. */
export async function setPipelineClass(dir: string, className: string): Promise<void> {
  const file = path.join(dir, "model_index.json");
  const index = JSON.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
  index._class_name = className;
  await fs.writeFile(file, JSON.stringify(index, null, 2));
}

/** Removes a component folder, as txt2img-only exports ship without vae_encoder/. */
export async function removeComponent(dir: string, component: ComponentName): Promise<void> {
  await fs.rm(path.join(dir, component), { recursive: true });
}

/** Merges fields into scheduler/scheduler_config.json (e.g. timestep_spacing "linspace", which gives fractional timesteps). */
export async function patchSchedulerConfig(dir: string, patch: Readonly<Record<string, unknown>>): Promise<void> {
  const file = path.join(dir, "scheduler", "scheduler_config.json");
  const config = JSON.parse(await fs.readFile(file, "utf8")) as Record<string, unknown>;
  await fs.writeFile(file, JSON.stringify({ ...config, ...patch }, null, 2));
}

/**
 * The Hugging Face cache layout: every file of the snapshot folder is a relative symlink into a
 * sibling `blobs/` folder, named by content hash. External weights must still be found beside the
 * symlinked model.onnx (ONNX Runtime resolves them from the path it was given, not the blob's).
 */
export async function symlinkIntoBlobs(dir: string): Promise<string> {
  const blobs = path.join(path.dirname(dir), "blobs");
  await fs.mkdir(blobs, { recursive: true });
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
      const file = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        await walk(file);
        continue;
      }
      const blob = path.join(blobs, createHash("sha256").update(await fs.readFile(file)).digest("hex"));
      await fs.rename(file, blob);
      await fs.symlink(path.relative(folder, blob), file);
    }
  };
  await walk(dir);
  return blobs;
}

/**
 * A VAE encoder that returns diffusers' `latent_parameters` (mean and log-variance stacked on the
 * channels, as SD 2.x exports do) instead of `latent_sample`: the mean is what the graph computed,
 * the log-variance the constant `logvar` everywhere. With logvar -30 (diffusers' clamp) the sample
 * is the mean to within 3e-7 of a unit draw, so the image stays the same, while every encode still
 * takes its draw from the generator: the order of draws shows in the result.
 */
export function vaeEncoderLatentParameters(model: onnx.ModelProto, logvar: number): void {
  const graph = graphOf(model);
  const port = (graph.output ?? []).find((p) => p.name === "latent_sample");
  if (!port) throw new Error("no graph output latent_sample");
  const mean = "latent_sample__mean";
  renameValue(graph, "latent_sample", mean);
  port.name = "latent_parameters";
  const channels = tensorTypeOf(port).shape?.dim?.[1];
  if (channels?.dimValue !== undefined && channels.dimValue !== null) channels.dimValue = Number(channels.dimValue) * 2;
  const scalar = (name: string, value: number): onnx.ITensorProto => ({ name, dataType: DataType.FLOAT, dims: [], floatData: [value] });
  graph.initializer = [...(graph.initializer ?? []), scalar("easel_test_zero", 0), scalar("easel_test_logvar", logvar)];
  graph.node = [
    ...(graph.node ?? []),
    { input: [mean, "easel_test_zero"], output: ["easel_test_zeros"], name: "easel_test_zeros", opType: "Mul" },
    { input: ["easel_test_zeros", "easel_test_logvar"], output: ["easel_test_logvars"], name: "easel_test_logvars", opType: "Add" },
    {
      input: [mean, "easel_test_logvars"],
      output: ["latent_parameters"],
      name: "easel_test_parameters",
      opType: "Concat",
      attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Hostile graphs: a model whose numbers blow up, to check a generation fails instead of writing a
// black image.

/** Multiplies a graph output by `factor` (Infinity: every nonzero value becomes ±Inf, zeros NaN). */
export function multiplyOutput(model: onnx.ModelProto, output: string, factor: number): void {
  const graph = graphOf(model);
  const producer = (graph.node ?? []).find((n) => n.output?.includes(output));
  if (!producer?.output) throw new Error(`no node produces ${output}`);
  const raw = `${output}_before_factor`;
  producer.output = producer.output.map((o) => (o === output ? raw : o));
  const factorName = `${output}_factor`;
  graph.initializer = [...(graph.initializer ?? []), onnx.TensorProto.create({ name: factorName, dataType: DataType.FLOAT, dims: [], floatData: [factor] })];
  graph.node = [...(graph.node ?? []), onnx.NodeProto.create({ name: `${output}_times_factor`, opType: "Mul", input: [raw, factorName], output: [output] })];
}
