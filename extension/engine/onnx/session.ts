import fs from "node:fs/promises";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { EaselError, firstLine } from "../errors";
import { physicalCoreCount } from "./cpuCores";
import { fromFloat16, toFloat16 } from "./float16";
import { applyTimestepPatch, findTimestepPatch, weightsResolveInFolder } from "./floatTimestep";
import { type GraphWeights, patchedGraph } from "./graphWeights";
import { applyOrtEnvironment } from "./ortEnvironment";
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

// No session uses ONNX Runtime's CPU arena: it keeps each session's largest activation buffers for
// good, growing in chunks beyond what is used. Measured on real-size SD 2.x graphs at 512²: peak
// RSS 1.81× the weights with every arena, 1.49× with the UNet's alone, 1.19× with none, for 5–7%
// more UNet and VAE time (docs/benchmarks.md).
// ONNX Runtime's own log lines (coloured "[E:onnxruntime:…]" on stderr, before Easel's one-line
// `error:`) only repeat what the failed call returns, and Easel puts that message in its error; so
// only fatal ones are let through, for the session (logSeverityLevel) and the process-wide default
// logger (ort.env.logLevel, read once when the first session creates ORT's environment).
const ORT_LOG_SEVERITY_FATAL = 4;

let ortReady = false;
/** Telemetry off and logging quiet, before the first session creates ORT's environment. */
function prepareOrt(): void {
  if (ortReady) return;
  applyOrtEnvironment();
  ort.env.logLevel = "fatal";
  ortReady = true;
}

/**
 * The options every Easel session is created with (the bench measures these same ones).
 * `externalWeightsFolder`: where a graph loaded from bytes (no path of its own) has its external weights.
 */
export function sessionOptions(provider: ProviderName, externalWeightsFolder?: string, externalData?: ort.InferenceSession.SessionOptions["externalData"]): ort.InferenceSession.SessionOptions {
  const cpu: ort.InferenceSession.SessionOptions = {
    logSeverityLevel: ORT_LOG_SEVERITY_FATAL,
    graphOptimizationLevel: "all",
    intraOpNumThreads: physicalCoreCount(),
    interOpNumThreads: 1,
    executionMode: "sequential",
    enableCpuMemArena: false,
    extra: {
      session: {
        intra_op: { allow_spinning: "0" },
        ...(externalWeightsFolder === undefined ? {} : { model_external_initializers_file_folder_path: externalWeightsFolder }),
      },
    },
  };
  return { ...cpu, ...(externalData ? { externalData } : {}), executionProviders: provider === "cpu" ? ["cpu"] : [provider, "cpu"] };
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

/** Initializers to replace when a graph's session is created (LoRA), as raw bytes in each tensor's dtype. */
export interface WeightPatch {
  readonly graph: GraphWeights;
  readonly replaced: ReadonlyMap<string, Uint8Array>;
}

/** An ONNX Runtime session plus what its graph declares, created once per model component. */
export class ModelSession {
  private constructor(
    readonly component: string,
    private readonly session: ort.InferenceSession,
    readonly inputs: readonly PortInfo[],
    readonly outputs: readonly PortInfo[],
  ) {}

  /**
   * Loads by file path so ONNX Runtime finds external weights (weights.pb, model.onnx_data) beside the
   * graph. A UNet whose integer timestep input only feeds a Cast to float is loaded from its bytes
   * with that input declared float32 instead (floatTimestep.ts), its external weights still read
   * from the graph's folder (unless they are symlinks out of it: see weightsResolveInFolder).
   */
  static async create(component: string, file: string, provider: ProviderName, weights?: WeightPatch): Promise<ModelSession> {
    prepareOrt();
    let session: ort.InferenceSession;
    try {
      const found = component === "unet" ? await findTimestepPatch(file) : undefined;
      const patch = found && (await weightsResolveInFolder(file, found.externalFiles)) ? found : undefined;
      if (weights && weights.replaced.size > 0) {
        // Patched weights (LoRA): the graph from its bytes, the replaced tensors from memory, the
        // others from the model's folder as usual.
        const bytes = await fs.readFile(file);
        if (patch) applyTimestepPatch(bytes, patch);
        const { model, externalData } = await patchedGraph(weights.graph, bytes, weights.replaced);
        session = await ort.InferenceSession.create(model, sessionOptions(provider, path.dirname(file), externalData));
        return new ModelSession(component, session, ports(session.inputMetadata), ports(session.outputMetadata));
      }
      const bytes = patch ? await fs.readFile(file) : undefined;
      if (patch && bytes && applyTimestepPatch(bytes, patch)) {
        session = await ort.InferenceSession.create(bytes, sessionOptions(provider, path.dirname(file)));
      } else {
        session = await ort.InferenceSession.create(file, sessionOptions(provider));
      }
    } catch (error) {
      throw loadError(component, provider, error);
    }
    return new ModelSession(component, session, ports(session.inputMetadata), ports(session.outputMetadata));
  }

  input(name: string): PortInfo | undefined {
    return this.inputs.find((p) => p.name === name);
  }

  output(name: string): PortInfo | undefined {
    return this.outputs.find((p) => p.name === name);
  }

  async run(feed: Feed): Promise<ort.InferenceSession.OnnxValueMapType> {
    try {
      return await this.session.run(feed);
    } catch (error) {
      throw new EaselError("internal", `${this.component} failed to run: ${firstLine(error)}`);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
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
