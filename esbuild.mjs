// Bundles the CLI, the extension and the engine process, and the Studio webview. Native packages stay
// external: onnxruntime-node and sharp load their platform binaries from node_modules.
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  external: ["onnxruntime-node", "sharp", "vscode"],
  logLevel: "warning",
};

const builds = [
  { ...common, entryPoints: ["extension/engine/cli.ts"], outfile: "dist/cli.js" },
  // The engine process the extension forks (EngineClient).
  { ...common, entryPoints: ["extension/engine/host/main.ts"], outfile: "dist/engineHost.js" },
  // The extension host side (imports vscode, which VS Code provides at run time).
  { ...common, entryPoints: ["extension/extension.ts"], outfile: "dist/extension.js" },
  // The Studio webview's page script, for the browser; the CSS it imports (codicons, with the font
  // file) is written beside it as dist/webview/studio.css.
  {
    entryPoints: ["webview/main.ts"],
    outfile: "dist/webview/studio.js",
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "es2022",
    minify: true,
    sourcemap: true,
    loader: { ".ttf": "file" },
    logLevel: "warning",
  },
];

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
