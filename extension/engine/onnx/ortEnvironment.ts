// What every process that runs ONNX Runtime gets in its environment before the first session.
//
// The official onnxruntime-node builds (1.2x and later) start Microsoft's 1DS telemetry on Linux and
// macOS when the first session is created: it writes a device id and a SQLite event store (model
// and graph names, CPU, OS) to ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and uploads the events
// over HTTPS. Easel promises that nothing leaves the machine, so it is switched off.
// With telemetry on, a command line over ~28 KB (a long --prompt) also crashed the first session's
// creation with SIGSEGV and nothing printed: a recursion inside libonnxruntime overflowed the main
// thread's stack, its depth growing with the length of /proc/self/cmdline, which that library reads
// for telemetry (the same text in an environment variable did no harm). With telemetry off the
// crash is gone (measured with onnxruntime-node 1.30 on Linux, up to a ~1 MB command line).
// ORT reads the variable when its OrtEnv is created (the first InferenceSession), so setting it in
// process.env before then is enough; child processes inherit it.
export const ORT_ENVIRONMENT: Readonly<Record<string, string>> = { ORT_DISABLE_TELEMETRY: "1" };

/** Puts ORT_ENVIRONMENT into this process's environment (idempotent). */
export function applyOrtEnvironment(): void {
  Object.assign(process.env, ORT_ENVIRONMENT);
}
