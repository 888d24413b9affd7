// Where an import's graphs come from when no --template is given: a catalog model of the same
// architecture already in the store (its graphs are the architecture's; its weights are not used).
import { loadCatalog } from "../hub/catalog";
import { findPulledEntry } from "../hub/resolveModel";
import type { ModelStore } from "../hub/store";
import { ARCHITECTURE_LABELS, type ImportArchitecture } from "./architecture";
import { EaselError } from "../errors";

export async function findStoreTemplate(store: ModelStore, architecture: ImportArchitecture): Promise<string> {
  const pulled = await store.listPulled();
  const candidates = loadCatalog().models.filter((m) => m.family === architecture);
  for (const entry of candidates) {
    const found = await findPulledEntry(store, entry, pulled);
    if (found) return found.dir;
  }
  const ids = candidates.map((c) => c.id);
  const hint = ids.length > 0 ? `download one first (easel models pull ${ids[0]}) or` : "";
  throw new EaselError("model-missing", `importing an ${ARCHITECTURE_LABELS[architecture]} checkpoint needs that architecture's ONNX graphs: ${hint} give a diffusers ONNX folder of the same architecture with --template DIR`.replace(":  ", ": "));
}
