// The session options each execution provider needs, in one place (the bench measures these same
// ones). Option names are onnxruntime-node 1.30's: its typings (onnxruntime-common
// InferenceSession.*ExecutionProviderOption) and what its binding reads (js/node/src/
// session_options_helper.cc: `deviceId` for DirectML and CUDA, `coreMlFlags` for Core ML, the WebGPU
// keys it lists, anything else for WebGPU a TypeError; `extra` becomes session config entries).
import type * as ort from "onnxruntime-node";
import { physicalCoreCount } from "./cpuCores";
import { type ByteSource, fieldsOf, LEN, utf8, withFileSource } from "./protobufWire";
import type { ProviderName } from "./providers";

/** What the graph declares, read before its session exists (the options depend on it). */
export interface GraphTraits {
  /** Every input dimension is a number: no symbolic batch, height or width. */
  readonly staticShapes: boolean;
  /** Some input is float16: the graph computes in half precision. */
  readonly fp16: boolean;
}

/** What is known of the adapter a GPU provider runs on. */
export interface AdapterTraits {
  /** Inputs and outputs live on the device between runs (IO binding); Easel feeds CPU tensors. */
  readonly deviceResidentIo: boolean;
}

const EASEL_ADAPTER: AdapterTraits = { deviceResidentIo: false };

// ONNX Runtime's own log lines (coloured "[E:onnxruntime:…]" on stderr, before Easel's one-line
// `error:`) only repeat what the failed call returns, and Easel puts that message in its error; so
// only fatal ones are let through.
const ORT_LOG_SEVERITY_FATAL = 4;

/** Core ML flags (coreml_provider_factory.h), as onnxruntime-node's `coreMlFlags` takes them. */
export const COREML_FLAGS = { onlyAllowStaticInputShapes: 0x008, createMlProgram: 0x010 } as const;

/**
 * Core ML: the MLProgram format for fp32 graphs; never for fp16 ones, whose MLProgram path gives
 * wrong images in ONNX Runtime 1.30 on macOS 15 (the NeuralNetwork format is used instead). A
 * static-shape graph is handed over only with static shapes, so Core ML compiles it once; a dynamic one
 * leaves its dynamic-shape nodes to the CPU. Neither has been measured on a Mac yet.
 */
export function coreMlFlags(graph: GraphTraits): number {
  return (graph.fp16 ? 0 : COREML_FLAGS.createMlProgram) | (graph.staticShapes ? COREML_FLAGS.onlyAllowStaticInputShapes : 0);
}

/**
 * WebGPU graph capture replays recorded GPU commands, so it needs shapes that never change and inputs
 * and outputs bound to device buffers at fixed places (ONNX Runtime's limits for captured graphs,
 * as for CUDA graphs). Easel feeds CPU tensors, so today it is off for every graph.
 */
export function webgpuGraphCapture(graph: GraphTraits, adapter: AdapterTraits = EASEL_ADAPTER): boolean {
  return graph.staticShapes && adapter.deviceResidentIo;
}

/** The execution provider list: the provider with its options, then the CPU for what it cannot take. */
export function executionProviders(provider: ProviderName, graph: GraphTraits): ort.InferenceSession.ExecutionProviderConfig[] {
  switch (provider) {
    case "cpu":
      return ["cpu"];
    case "dml":
      return [{ name: "dml", deviceId: 0 }, "cpu"];
    case "cuda":
      return [{ name: "cuda", deviceId: 0 }, "cpu"];
    case "webgpu":
      // NHWC: the layout ONNX Runtime's WebGPU convolution kernels are written for (SD graphs are
      // mostly Conv and MatMul); NCHW would transpose around every Conv.
      return [{ name: "webgpu", preferredLayout: "NHWC" }, "cpu"];
    case "coreml":
      return [{ name: "coreml", coreMlFlags: coreMlFlags(graph) }, "cpu"];
  }
}

/** A graph nobody has read: dynamic shapes, fp32 (what the CPU path assumes). */
export const UNKNOWN_GRAPH: GraphTraits = { staticShapes: false, fp16: false };

/**
 * The options every Easel session is created with. `externalWeightsFolder`: where a graph loaded from
 * bytes (no path of its own) has its external weights.
 */
export function sessionOptions(
  provider: ProviderName,
  externalWeightsFolder?: string,
  graph: GraphTraits = UNKNOWN_GRAPH,
  adapter: AdapterTraits = EASEL_ADAPTER,
): ort.InferenceSession.SessionOptions {
  // No session uses ONNX Runtime's CPU arena: it keeps each session's largest activation buffers for
  // good, growing in chunks beyond what is used. Measured on real-size SD 2.x graphs at 512²: peak
  // RSS 1.81× the weights with every arena, 1.49× with the UNet's alone, 1.19× with none, for 5–7%
  // more UNet and VAE time (docs/benchmarks.md).
  const session: Record<string, unknown> = {
    intra_op: { allow_spinning: "0" },
    ...(externalWeightsFolder === undefined ? {} : { model_external_initializers_file_folder_path: externalWeightsFolder }),
  };
  const base: ort.InferenceSession.SessionOptions = {
    logSeverityLevel: ORT_LOG_SEVERITY_FATAL,
    graphOptimizationLevel: "all",
    intraOpNumThreads: physicalCoreCount(),
    interOpNumThreads: 1,
    executionMode: "sequential",
    enableCpuMemArena: false,
    extra: { session },
    executionProviders: executionProviders(provider, graph),
  };
  switch (provider) {
    case "dml":
      // DirectML's documented requirements: no memory pattern, sequential execution (and one Run at
      // a time per session, which ModelSession enforces).
      return { ...base, enableMemPattern: false, executionMode: "sequential" };
    case "webgpu":
      return webgpuGraphCapture(graph, adapter)
        ? { ...base, extra: { session, "ep.webgpuexecutionprovider.enableGraphCapture": "1" } }
        : base;
    default:
      return base;
  }
}

/** DirectML sessions must not run concurrently (its command queue is not re-entrant per session). */
export function serializesRuns(provider: ProviderName): boolean {
  return provider === "dml";
}

const FLOAT16 = 10;

/** ValueInfoProto → (elem_type, whether every dim has a value). */
async function inputTraits(source: ByteSource, start: number, end: number): Promise<{ fp16: boolean; isStatic: boolean }> {
  let fp16 = false;
  let isStatic = true;
  for await (const f of fieldsOf(source, start, end)) {
    if (f.number !== 2 || f.wireType !== 2) continue; // ValueInfoProto.type
    for await (const t of fieldsOf(source, f.start, f.end)) {
      if (t.number !== 1 || t.wireType !== 2) continue; // TypeProto.tensor_type
      let shape = false;
      for await (const e of fieldsOf(source, t.start, t.end)) {
        if (e.number === 1 && e.wireType === 0) fp16 ||= e.value === FLOAT16; // elem_type
        if (e.number === 2 && e.wireType === 2) {
          shape = true;
          for await (const d of fieldsOf(source, e.start, e.end)) {
            if (d.number !== 1 || d.wireType !== 2) continue; // TensorShapeProto.dim
            let valued = false;
            for await (const v of fieldsOf(source, d.start, d.end)) if (v.number === 1 && v.wireType === 0 && v.value > 0) valued = true;
            isStatic &&= valued;
          }
        }
      }
      isStatic &&= shape;
    }
  }
  return { fp16, isStatic };
}

/**
 * Reads a graph's inputs from model.onnx without its weights (their headers are skipped). A file
 * that is not a protobuf this walker understands reads as UNKNOWN_GRAPH; ONNX Runtime then reports
 * what is wrong with it.
 */
export async function readGraphTraits(file: string): Promise<GraphTraits> {
  return withFileSource(file, async (source, size) => {
    try {
      let graph: { start: number; end: number } | undefined;
      for await (const f of fieldsOf(source, 0, size)) if (f.number === 7 && f.wireType === LEN) graph = f; // ModelProto.graph
      if (!graph) return UNKNOWN_GRAPH;
      const initializers = new Set<string>();
      const inputs: { start: number; end: number; name: string }[] = [];
      for await (const f of fieldsOf(source, graph.start, graph.end)) {
        if (f.wireType !== LEN) continue;
        if (f.number === 11 || f.number === 5) {
          let name = "";
          for await (const n of fieldsOf(source, f.start, f.end)) {
            // ValueInfoProto.name is 1; TensorProto.name is 8.
            if (n.wireType === LEN && n.number === (f.number === 11 ? 1 : 8)) name = utf8.decode(await source.read(n.start, n.value));
          }
          if (f.number === 11) inputs.push({ start: f.start, end: f.end, name });
          else initializers.add(name);
        }
      }
      let fp16 = false;
      let staticShapes = inputs.length > 0;
      // Old exports list initializers among the inputs: those are weights, not feeds.
      for (const input of inputs.filter((i) => !initializers.has(i.name))) {
        const t = await inputTraits(source, input.start, input.end);
        fp16 ||= t.fp16;
        staticShapes &&= t.isStatic;
      }
      return { staticShapes, fp16 };
    } catch {
      return UNKNOWN_GRAPH;
    }
  });
}
