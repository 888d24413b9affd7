// "Export Asset Pack…": a preset chosen from a list, its files rendered from the image and created
// beside it in <name>-<preset>/ as one workspace edit; for the web pack, the <link> tags can go
// into an open HTML page's <head> in that same edit (one undo takes back the files and the tags).
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { EaselError } from "../engine/errors";
import { type AssetPack, PACK_DESCRIPTIONS, PACK_PRESETS, type PackPreset, packFolderName, renderAssetPack, webLinkTags } from "../engine/packs/assetPack";
import { showError } from "../errorMessages";
import { readWorkspaceImage } from "../workspaceImages";
import { headInsertion, hrefPrefix } from "./htmlHead";
import { IMAGE_KINDS, isImageFile } from "./imageFiles";
import { applyOrThrow } from "./saveImages";
import { recordDerived } from "./assetLock";
import { packStep } from "../engine/assets/assetRecord";

const LABELS: Readonly<Record<PackPreset, string>> = {
  web: "Web (favicons, manifest)",
  ios: "iOS app icon",
  android: "Android launcher icons",
  "vscode-extension": "VS Code extension icon",
  social: "Social card (Open Graph / Twitter)",
};

async function pickPreset(): Promise<PackPreset | undefined> {
  const picked = await vscode.window.showQuickPick(
    PACK_PRESETS.map((preset) => ({ label: LABELS[preset], description: preset, detail: PACK_DESCRIPTIONS[preset], preset })),
    { title: "Export Asset Pack", placeHolder: "Which pack?" },
  );
  return picked?.preset;
}

/** The first of <stem>-<preset>, -2, -3… not already in the folder. */
async function freeFolder(parent: vscode.Uri, name: string): Promise<vscode.Uri> {
  const taken = new Set((await vscode.workspace.fs.readDirectory(parent).then(undefined, () => [] as [string, vscode.FileType][])).map(([n]) => n.toLowerCase()));
  let candidate = name;
  for (let i = 2; taken.has(candidate.toLowerCase()); i++) candidate = `${name}-${i}`;
  return vscode.Uri.joinPath(parent, candidate);
}

/** An open HTML page to put the web pack's tags into, when the user wants that. */
async function pickHtmlPage(folder: vscode.Uri): Promise<vscode.TextDocument | undefined> {
  const pages = vscode.workspace.textDocuments.filter((d) => d.languageId === "html" && !d.isClosed && d.uri.scheme !== "output");
  if (pages.length === 0) return undefined;
  const items: (vscode.QuickPickItem & { readonly document?: vscode.TextDocument })[] = [
    ...pages.map((d) => ({ label: `Insert the <link> tags into ${vscode.workspace.asRelativePath(d.uri)}`, description: "before </head>", document: d })),
    { label: "Don't insert", description: "the tags are in head-tags.html" },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: "Export Asset Pack: web", placeHolder: `The pack goes in ${vscode.workspace.asRelativePath(folder)}` });
  return picked?.document;
}

async function socialTitle(): Promise<string | undefined | null> {
  const title = await vscode.window.showInputBox({ title: "Export Asset Pack: social card", prompt: "A title to draw on the card (leave empty for none)", placeHolder: "e.g. Easel 1.0 is out" });
  return title === undefined ? null : title.trim() === "" ? undefined : title.trim();
}

async function exportAssetPack(uri: vscode.Uri): Promise<void> {
  const name = uri.path.split("/").pop() ?? "image";
  if (!isImageFile(name)) throw new EaselError("image-invalid", `${name} is not an image Easel reads: choose a ${IMAGE_KINDS} file`);
  const preset = await pickPreset();
  if (!preset) return;
  const title = preset === "social" ? await socialTitle() : undefined;
  if (title === null) return;
  const image = await readWorkspaceImage(uri);
  const stem = name.replace(/\.[^.]+$/, "");
  const folder = await freeFolder(vscode.Uri.joinPath(uri, ".."), packFolderName(stem, preset));
  const appName = vscode.workspace.getWorkspaceFolder(uri)?.name ?? stem;
  const fontFamily = vscode.workspace.getConfiguration("editor").get<string>("fontFamily") || undefined;
  const options = { name: appName.slice(0, 100), title, fontFamily, small: "upscale" as const };
  const pack: AssetPack = await renderAssetPack(image, preset, options);
  const page = preset === "web" ? await pickHtmlPage(folder) : undefined;

  const edit = new vscode.WorkspaceEdit();
  addPackFiles(edit, folder, pack);
  if (page) {
    const pageFolder = vscode.Uri.joinPath(page.uri, "..");
    const tags = webLinkTags(page.uri.scheme === folder.scheme && page.uri.authority === folder.authority ? hrefPrefix(pageFolder.path, folder.path) : "/");
    const at = headInsertion(page.getText(), tags);
    if (!at) throw new EaselError("bad-argument", `${vscode.workspace.asRelativePath(page.uri)} has no <head>…</head> to put the tags in: add one, or paste them from head-tags.html`);
    edit.insert(page.uri, page.positionAt(at.offset), at.text);
  }
  await applyOrThrow(edit, "the asset pack");
  // Each image file of the pack is recorded with its source, preset and fill (the ICO, manifest and tags are not images to check).
  const images = pack.files.filter((f) => f.path.toLowerCase().endsWith(".png"));
  await recordDerived(uri, image, images.map((f) => [vscode.Uri.joinPath(folder, ...f.path.split("/")), f.bytes] as const), (_root, i) => packStep(preset, images[i].path, options));
  for (const note of pack.notes) void vscode.window.showWarningMessage(`Easel: ${note}.`);
  const first = pack.files.find((f) => f.path.endsWith(".png"))?.path ?? pack.files[0].path;
  await vscode.commands.executeCommand("revealInExplorer", vscode.Uri.joinPath(folder, ...first.split("/")));
}

/** A pack's files as new files in `folder` (never replacing one): the one way the editor writes a pack (this command, the agent's icon_set). */
export function addPackFiles(edit: vscode.WorkspaceEdit, folder: vscode.Uri, pack: AssetPack): void {
  for (const file of pack.files) edit.createFile(vscode.Uri.joinPath(folder, ...file.path.split("/")), { contents: file.bytes, overwrite: false });
}

export function registerAssetPackExport(): vscode.Disposable {
  return vscode.commands.registerCommand("easel.exportAssetPack", async (arg?: unknown) => {
    try {
      const uri = commandResource(arg);
      if (!uri) throw new EaselError("bad-argument", "choose an image in the explorer (or open one) to export an asset pack from");
      await exportAssetPack(uri);
    } catch (error) {
      await showError(error);
    }
  });
}
