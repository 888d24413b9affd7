// The catalog's TAESD decoders in the store: fetched with the first model of a family they serve
// (the user is asked once; a "no" is remembered until they pull the decoder themselves), and
// found by family when a model loads, so previews and draft images need no configured path.
// A decoder is one small ONNX file, pulled like a model (singleFile.ts).
import { EaselError, firstLine } from "../errors";
import { type Catalog, type CatalogDecoder, type DecoderOutput, decoderForFamily } from "./catalog";
import type { PullOptions } from "./pull";
import { findStoreFile, pullSingleFile } from "./singleFile";
import { ModelStore } from "./store";

/** Asks whether to fetch a decoder of `bytes` bytes (its name, licence and size are shown). */
export type ConfirmDecoder = (decoder: CatalogDecoder, bytes: number) => Promise<boolean>;

export interface DecoderPullOptions extends PullOptions {
  /** Asked before a decoder's first download (after its pins are checked); a "no" is remembered. Without it the decoder is fetched. */
  readonly confirmDecoder?: ConfirmDecoder;
  /** For tests: a catalog other than the shipped one. */
  readonly catalog?: Catalog;
}

export type DecoderOutcome =
  | { readonly status: "present"; readonly decoder: CatalogDecoder; readonly file: string }
  /** `sizeOnlyNote`: the Hub published no hash for the file (see manifest.sizeOnlyNote); absent when it was verified by hash. */
  | { readonly status: "downloaded"; readonly decoder: CatalogDecoder; readonly file: string; readonly bytes: number; readonly sizeOnlyNote?: string }
  /** The user said no, now or before. */
  | { readonly status: "declined"; readonly decoder: CatalogDecoder }
  /** The model itself is fine; the decoder could not be fetched (the reason in one line). */
  | { readonly status: "failed"; readonly decoder: CatalogDecoder; readonly reason: string };

export interface StoreDecoder {
  /** The decoder's ONNX file. */
  readonly file: string;
  readonly output: DecoderOutput;
  readonly decoder: CatalogDecoder;
}

/** The store's decoder for a model family when it is downloaded and whole (its size as recorded); no network. */
export async function findStoreDecoder(store: ModelStore, family: string, catalog?: Catalog): Promise<StoreDecoder | undefined> {
  const decoder = decoderForFamily(family, catalog);
  if (!decoder) return undefined;
  const file = await findStoreFile(store, decoder);
  return file === undefined ? undefined : { file, output: decoder.output, decoder };
}

/**
 * The decoder for `family` after a model of it was downloaded: the one in the store, else fetched
 * unless the user declined it before (or declines now, through `confirmDecoder`). Never throws for
 * the decoder's sake: a failure is reported as an outcome, since the model is usable without it.
 */
export async function ensureDecoderFor(family: string, options: DecoderPullOptions & { readonly decline?: boolean } = {}): Promise<DecoderOutcome | undefined> {
  const decoder = decoderForFamily(family, options.catalog);
  if (!decoder) return undefined;
  const store = options.store ?? ModelStore.open();
  const have = await findStoreDecoder(store, family, options.catalog);
  if (have) return { status: "present", decoder, file: have.file };
  // `decline`: the user's no given up front (--no-taesd), remembered without asking the Hub anything.
  if (options.decline) await store.recordDecoderChoice(decoder.id, true);
  if (await store.isDecoderDeclined(decoder.id)) return { status: "declined", decoder };
  try {
    return await pullDecoder(decoder, { ...options, store });
  } catch (error) {
    if (error instanceof EaselError && error.code === "cancelled") throw error;
    return { status: "failed", decoder, reason: firstLine(error) };
  }
}

/** Downloads a decoder into the store (or finds it there). Called without `confirmDecoder` it is an explicit pull, which clears an earlier "no". */
export async function pullDecoder(decoder: CatalogDecoder, options: DecoderPullOptions = {}): Promise<DecoderOutcome> {
  const store = options.store ?? ModelStore.open();
  const { confirmDecoder } = options;
  const pulled = await pullSingleFile(decoder, { ...options, store, confirm: confirmDecoder && ((bytes) => confirmDecoder(decoder, bytes)), otherwise: "or set easel.taesdDecoder to a TAESD decoder file" });
  // A no is remembered; a decoder found already present clears an earlier no only when pulled explicitly.
  if (pulled.status === "declined" || pulled.status === "downloaded" || !confirmDecoder) await store.recordDecoderChoice(decoder.id, pulled.status === "declined");
  if (pulled.status === "declined") return { status: "declined", decoder };
  if (pulled.status === "present") return { status: "present", decoder, file: pulled.file };
  return { ...pulled, decoder };
}
