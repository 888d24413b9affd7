import fs from "node:fs/promises";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { EaselError, firstLine } from "../errors";
import { fromFloat16, toFloat16 } from "./float16";
import { circularPaddingGraph } from "./circularPadding";
import { applyTimestepPatch, findTimestepPatch, findTimestepPatchInBytes, weightsResolveInFolder } from "./floatTimestep";
import { graphWeightsOfBytes } from "./graphWeights";
import { patchedGraph, type WeightPatch } from "./patchedGraph";
import { applyOrtEnvironment } from "./ortEnvironment";
import { readGraphTraits, serializesRuns, sessionOptions, UNKNOWN_GRAPH } from "./providerOptions";
import { providerLabel, type ProviderName } from "./providers";

/** One port of a graph as the model declares it: the pipeline adapts to these, never assumes. */
export interface PortInfo {
  readonly name: string;
  readonly type: ort.Tensor.Type;
  readonly shape: ReadonlyArray<number | string>;
}

export type Feed = Record<string, ort.Tensor>;

function ports(list: readonly ort.InferenceSession.ValueMetadata[]): PortInfo[] {
  return list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: "float32", shape: [] }));
}

// ONNX Runtime's process-wide default logger (ort.env.logLevel, read once when the first session
// creates ORT's environment) lets only fatal lines through, as each session does (providerOptions.ts).
let ortReady = false;
/** Telemetry off and logging quiet, before the first session creates ORT's environment. */
function prepareOrt(): void {
  if (ortReady) return;
  applyOrtEnvironment();
  ort.env.logLevel = "fatal";
  ortReady = true;
}

/** What ModelSession needs of an ONNX Runtime session: tests wrap a real one to inject GPU faults. */
export interface OrtSession {
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  run(feed: Feed): Promise<ort.InferenceSession.OnnxValueMapType>;
  release(): Promise<void>;
}

/** Creates an ONNX Runtime session from a path or a graph's bytes; injectable for tests. */
export type SessionOpener = (model: string | Uint8Array, options: ort.InferenceSession.SessionOptions, provider: ProviderName) => Promise<OrtSession>;

/** How ModelSession.create loads a graph. */
export interface SessionCreateOptions {
  /** Every 2-D convolution pads circularly (seamless tiling). */
  readonly circular?: boolean;
  /** Defaults to ONNX Runtime itself; tests inject GPU faults. */
  readonly open?: SessionOpener;
  /** Initializers replaced (LoRA); the others are read from the graph's folder as usual. */
  readonly weights?: WeightPatch;
  /**
   * Open the session again when a run's input shapes collide with another shape's memory pattern
   * (see freshPatternFor): for the pipeline's components, whose shapes change only with the image
   * size. Not for graphs fed alternating shapes (an upscaler's edge tiles), which would reopen often.
   */
  readonly freshPatterns?: boolean;
}

export const openOrtSession: SessionOpener = (model, options) =>
  typeof model === "string" ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);

// Out of memory as each GPU runtime words it: ORT's allocators, CUDA, DirectML (E_OUTOFMEMORY,
// a removed device after a TDR) and Dawn.
const OUT_OF_MEMORY = /out of memory|\bOOM\b|failed to allocate|E_OUTOFMEMORY|0x8007000E|DXGI_ERROR_DEVICE_REMOVED|0x887A0005|cudaErrorMemoryAllocation|OutOfMemory/i;

/**
 * A GPU provider failed while running a graph (not the model's fault, not the CPU's): the engine
 * falls back to the next provider and remembers it.
 */
export class ProviderRunError extends EaselError {
  constructor(
    readonly provider: ProviderName,
    readonly component: string,
    /** The runtime's own words, one line. */
    readonly reason: string,
  ) {
    super("provider-unavailable", `${component} failed to run on ${providerLabel(provider)}: ${reason}`, true);
  }

  get outOfMemory(): boolean {
    return OUT_OF_MEMORY.test(this.reason);
  }
}

/**
 * Why a graph did not load, in one line. An operator without a kernel on this provider (the fused
 * CUDA-only operators of exports "optimized" for one GPU) is a wrong export, not a broken file.
 */
function loadError(component: string, provider: ProviderName, error: unknown): EaselError {
  const message = firstLine(error);
  const missing = /Could not find an implementation for (\S+?)\(\d+\) node/.exec(message);
  if (missing) {
    return new EaselError(
      "model-unsupported",
      `${component}/model.onnx uses the operator ${missing[1]}, which ONNX Runtime cannot run on ${provider === "cpu" ? providerLabel("cpu") : `${providerLabel(provider)} or the CPU`}: this export was made for another provider (such as CUDA); choose a model exported for this machine or set easel.provider (CLI: --provider) to the one it was made for`,
    );
  }
  return new EaselError(
    "model-invalid",
    `${component}/model.onnx could not be loaded (${message}): the file is corrupt, truncated or missing its external weights; download or export the model again`,
  );
}

/** An ONNX Runtime session plus what its graph declares, created once per model component. */
export class ModelSession {
  /** DirectML: the previous run, which the next one waits for. */
  private lastRun: Promise<unknown> = Promise.resolve();

  /** Input shapes run so far, by ONNX Runtime's memory-pattern key (see patternKey). */
  private readonly shapesByKey = new Map<number, string>();

  private constructor(
    readonly component: string,
    readonly provider: ProviderName,
    private session: OrtSession,
    readonly inputs: readonly PortInfo[],
    readonly outputs: readonly PortInfo[],
    /** Opens the same graph again, as it was opened, when memory patterns collide (see freshPatternFor); undefined: never. */
    private readonly reopen: (() => Promise<OrtSession>) | undefined,
  ) {}

  /**
   * Loads by file path so ONNX Runtime finds external weights (weights.pb, model.onnx_data) beside the
   * graph. A UNet whose integer timestep input only feeds a Cast to float is loaded from its bytes
   * with that input declared float32 instead (floatTimestep.ts), its external weights still read
   * from the graph's folder (unless they are symlinks out of it: see weightsResolveInFolder).
   */
  static async create(component: string, file: string, provider: ProviderName, options: SessionCreateOptions = {}): Promise<ModelSession> {
    prepareOrt();
    const reopen = () => ModelSession.openGraph(component, file, provider, options);
    const session = await reopen();
    return new ModelSession(component, provider, session, ports(session.inputMetadata), ports(session.outputMetadata), options.freshPatterns === true ? reopen : undefined);
  }

  private static async openGraph(component: string, file: string, provider: ProviderName, options: SessionCreateOptions): Promise<OrtSession> {
    const open = options.open ?? openOrtSession;
    const weights = options.weights && options.weights.replaced.size > 0 ? options.weights : undefined;
    if (options.circular) return ModelSession.openCircular(component, file, provider, open, weights);
    let session: OrtSession;
    try {
      // GPU providers' options depend on the graph's shapes and precision; the CPU's do not.
      const graph = provider === "cpu" ? UNKNOWN_GRAPH : await readGraphTraits(file);
      const found = component === "unet" ? await findTimestepPatch(file) : undefined;
      const patch = found && (await weightsResolveInFolder(file, found.externalFiles)) ? found : undefined;
      if (weights) {
        // Patched weights (LoRA): the graph from its bytes, its external weights from the model's
        // folder or from the merged weights' (patchedGraph.ts).
        const bytes = await fs.readFile(file);
        if (patch) applyTimestepPatch(bytes, patch);
        const { model, weightsFolder } = await patchedGraph(weights.graph, bytes, weights);
        return await open(model, sessionOptions(provider, weightsFolder ?? path.dirname(file), graph), provider);
      }
      const bytes = patch ? await fs.readFile(file) : undefined;
      if (patch && bytes && applyTimestepPatch(bytes, patch)) {
        session = await open(bytes, sessionOptions(provider, path.dirname(file), graph), provider);
      } else {
        session = await open(file, sessionOptions(provider, undefined, graph), provider);
      }
    } catch (error) {
      throw loadError(component, provider, error);
    }
    return session;
  }

  /**
   * The graph with every 2-D convolution padding circularly (seamless tiling, circularPadding.ts),
   * loaded from its rewritten bytes with the external weights read from its folder; a UNet's integer
   * timestep is re-declared float in the rewritten bytes as create() does in the file's.
   */
  private static async openCircular(component: string, file: string, provider: ProviderName, open: SessionOpener, weights: WeightPatch | undefined): Promise<OrtSession> {
    const graph = await circularPaddingGraph(file, component);
    if (!(await weightsResolveInFolder(file, graph.externalFiles))) {
      throw new EaselError(
        "model-unsupported",
        `seamless tiling cannot load ${component}/model.onnx: its external weights are links out of its folder (a Hugging Face cache snapshot); add a plain copy of the model folder ('easel models add DIR') or pull it with 'easel models pull'`,
      );
    }
    if (component === "unet") {
      const patch = await findTimestepPatchInBytes(graph.bytes);
      if (patch) applyTimestepPatch(graph.bytes, patch);
    }
    let session: OrtSession;
    try {
      // The rewrite keeps every input's shape and dtype, so the file's traits are the graph's.
      const traits = provider === "cpu" ? UNKNOWN_GRAPH : await readGraphTraits(file);
      if (weights) {
        // A LoRA on a tiled graph: the rewrite keeps every initializer as it was, so the patch applies
        // to the rewritten bytes, whose initializers are found again (their offsets moved).
        const { model, weightsFolder } = await patchedGraph(await graphWeightsOfBytes(graph.bytes, file), graph.bytes, weights);
        session = await open(model, sessionOptions(provider, weightsFolder ?? path.dirname(file), traits), provider);
      } else {
        session = await open(graph.bytes, sessionOptions(provider, path.dirname(file), traits), provider);
      }
    } catch (error) {
      throw loadError(component, provider, error);
    }
    return session;
  }

  input(name: string): PortInfo | undefined {
    return this.inputs.find((p) => p.name === name);
  }

  output(name: string): PortInfo | undefined {
    return this.outputs.find((p) => p.name === name);
  }

  async run(feed: Feed): Promise<ort.InferenceSession.OnnxValueMapType> {
    if (!serializesRuns(this.provider)) return this.runNow(feed);
    const run = this.lastRun.then(() => this.runNow(feed));
    this.lastRun = run.catch(() => undefined);
    return run;
  }

  /**
   * ONNX Runtime keeps one memory pattern (where each activation goes) per key of the input shapes,
   * and that key is the XOR of every input dimension: [1,4,64,64] and [1,4,8,8] share it (so do all
   * square latents of one batch). After one of them ran, the others find its pattern, which does
   * not fit them, and allocate every activation by itself on every run for the life of the session:
   * 3–5× slower at 512² after a 64² image on a CPU (docs/benchmarks.md). When shapes collide so, the
   * session is opened again, which costs one load instead of that on every later run.
   */
  private async freshPatternFor(feed: Feed): Promise<void> {
    // DirectML runs without memory patterns (providerOptions.ts).
    if (!this.reopen || this.provider === "dml") return;
    const tensors = Object.entries(feed);
    const key = patternKey(tensors.map(([, t]) => t.dims));
    const shapes = JSON.stringify(tensors.map(([name, t]) => [name, t.dims]).sort());
    const seen = this.shapesByKey.get(key);
    if (seen === shapes) return;
    if (seen !== undefined) {
      await this.session.release();
      this.session = await this.reopen();
      this.shapesByKey.clear();
    }
    this.shapesByKey.set(key, shapes);
  }

  private async runNow(feed: Feed): Promise<ort.InferenceSession.OnnxValueMapType> {
    await this.freshPatternFor(feed);
    try {
      return await this.session.run(feed);
    } catch (error) {
      if (this.provider !== "cpu") throw new ProviderRunError(this.provider, this.component, firstLine(error));
      throw new EaselError("internal", `${this.component} failed to run: ${firstLine(error)}`);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** ONNX Runtime's memory-pattern key for these input shapes (SessionState's CalculateMemoryPatternsKey): every dimension XORed. */
export function patternKey(shapes: ReadonlyArray<readonly number[]>): number {
  let key = 0;
  for (const dims of shapes) for (const d of dims) key ^= d;
  return key;
}

/** A float tensor in the dtype the port declares (fp16 models get their halves here). */
export function floatTensor(port: PortInfo, data: Float32Array, dims: readonly number[]): ort.Tensor {
  if (port.type === "float16") return new ort.Tensor("float16", toFloat16(data), dims);
  if (port.type === "float32") return new ort.Tensor("float32", data, dims);
  throw new EaselError("model-unsupported", `not supported yet: ${port.name} declared as ${port.type} (expected float32 or float16)`);
}

/**
 * An integer or float tensor in whatever dtype the port declares (timesteps, token ids). Integer
 * ports get the nearest integer: a UNet whose integer timestep could not be re-declared float
 * (floatTimestep.ts) gets the nearest one to a fractional Euler-family timestep, the closest it can
 * come to diffusers' (float) UNet input.
 */
export function numericTensor(port: PortInfo, values: readonly number[], dims: readonly number[]): ort.Tensor {
  switch (port.type) {
    case "int64":
      return new ort.Tensor("int64", BigInt64Array.from(values, (v) => BigInt(Math.round(v))), dims);
    case "int32":
      return new ort.Tensor("int32", Int32Array.from(values, (v) => Math.round(v)), dims);
    case "float32":
    case "float16":
      return floatTensor(port, Float32Array.from(values), dims);
    case "float64":
      return new ort.Tensor("float64", Float64Array.from(values), dims);
    default:
      throw new EaselError("model-unsupported", `not supported yet: ${port.name} declared as ${port.type}`);
  }
}

/** Output tensor data as f32, whatever precision the graph computed in. */
export function floatData(value: ort.OnnxValue | undefined, what: string): Float32Array {
  if (!value || !(value instanceof ort.Tensor)) throw new EaselError("internal", `${what} produced no tensor`);
  if (value.type === "float32") return value.data as Float32Array;
  if (value.type === "float16") {
    const data = value.data;
    return data instanceof Uint16Array ? fromFloat16(data) : Float32Array.from(data as ArrayLike<number>);
  }
  throw new EaselError("model-unsupported", `not supported yet: ${what} returns ${value.type}`);
}
