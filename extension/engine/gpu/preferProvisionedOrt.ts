// Imported first by the CLI and the engine process (before anything that imports onnxruntime-node):
// ONNX Runtime then comes from Easel's CUDA folder when one is installed (ortBinding.ts).
import { useProvisionedOrt } from "./ortBinding";

const used = useProvisionedOrt();
if (used?.warning) process.stderr.write(`warning: ${used.warning}\n`);
