// The models API the CLI and the extension use; the extension passes VS Code's `http.proxy` as
// `proxy` and its store setting as `store: ModelStore.open(setting)`.
export { type Catalog, type CatalogDecoder, catalogEntryForPull, type CatalogEntry, decoderForFamily, entryRevision, findCatalogDecoder, findCatalogEntry, loadCatalog, parseCatalog, unsupportedReason } from "./catalog";
export { type ConfirmDecoder, type DecoderOutcome, ensureDecoderFor, findStoreDecoder, pullDecoder } from "./decoders";
export { type HubOptions } from "./hubConfig";
export { type ConfirmLicense, describeLicense, type LicenseInfo } from "./license";
export { downloadedLine, type Manifest, manifestBytes, sizeOnlyNote } from "./manifest";
export { formatBytes, formatProgressLine, type FileProgress, type PullProgress } from "./progress";
export { pullModel, type PullOptions, type PullResult } from "./pull";
export { parseRepoRef, type RepoRef } from "./repoId";
export { findPulledEntry, resolveModel, type ResolvedModel, type ResolveOptions } from "./resolveModel";
export { type LocalModel, ModelStore, type PulledModel } from "./store";
export { defaultStoreRoot } from "./storePaths";
export { verifyFolder, type VerifyReport } from "./verify";
