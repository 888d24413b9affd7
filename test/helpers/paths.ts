import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const FIXTURES = path.join(ROOT, "test", "fixtures");
export const CONFORMANCE = path.join(FIXTURES, "conformance");
export const MODELS = path.join(CONFORMANCE, "models");
export const CLI = path.join(ROOT, "dist", "cli.js");
