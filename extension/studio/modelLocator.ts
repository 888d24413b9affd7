// Where a model spec already is on this machine, without downloading or asking the network: the
// Studio needs a model's folder for its tokenizer and sizes before anything is generated.
import { type ModelStore, resolveModel } from "../engine/hub";

/** The model's folder when it is present, else undefined (not downloaded yet, or nothing by that name). */
export async function locateModel(spec: string, store: ModelStore, cwd?: string): Promise<string | undefined> {
  if (spec.trim() === "") return undefined;
  return resolveModel(spec, { store, cwd, download: false }).then(
    (r) => r.dir,
    () => undefined,
  );
}
