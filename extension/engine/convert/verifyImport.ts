// The check an imported folder passes before it is listed: every component loads in ONNX Runtime
// and a 1-step 64² image comes out (finite pixels: the engine refuses NaN/Inf). Low-memory mode
// holds one component at a time, so the check's peak is the largest component's, as the
// conversion's is.
import { Engine } from "../engine";
import { EaselError } from "../errors";

export async function verifyImportedFolder(dir: string, signal?: AbortSignal): Promise<void> {
  const engine = await Engine.load(dir, { provider: "cpu", lowMemory: true });
  try {
    if (signal?.aborted) throw new EaselError("cancelled", "import cancelled");
    await engine.generate({ prompt: "a test", steps: 1, width: 64, height: 64, seed: 1n }, { signal });
  } finally {
    await engine.dispose();
  }
}
