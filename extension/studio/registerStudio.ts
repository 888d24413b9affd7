// Easel: Open Studio — one Studio panel at a time (revealed when already open), restored after a
// window reload by the serializer (the page keeps its form in the webview state), and optionally
// prefilled from an image's settings: `easel.openStudio` with `{ infotext }`. Easel: Inpaint
// Image… and Extend Image… open it with an image (explorer, image preview) as the starting image
// and the mask editor or the outpaint control shown.
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { IMAGE_KINDS } from "../assets/imageFiles";
import { EaselError } from "../engine/errors";
import type { EngineService } from "../engineService";
import { showError } from "../errorMessages";
import { MarkdownTarget } from "./markdownTarget";
import { studioHtml } from "./studioHtml";
import { StudioPanel, type StudioServices } from "./studioPanel";
import { TokenCounter } from "./tokenCounter";
import { workspaceImageLocation } from "./workspaceImage";

export const STUDIO_VIEW_TYPE = "easel.studio";

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    // The page's own files, and the workspace for gallery thumbnails and the img2img image.
    localResourceRoots: [
      vscode.Uri.joinPath(extensionUri, "dist", "webview"),
      vscode.Uri.joinPath(extensionUri, "media"),
      ...(vscode.workspace.workspaceFolders ?? []).map((f) => f.uri),
    ],
  };
}

function infotextArg(arg: unknown): string | undefined {
  if (typeof arg !== "object" || arg === null) return undefined;
  const infotext = (arg as { infotext?: unknown }).infotext;
  return typeof infotext === "string" && infotext.trim() !== "" ? infotext : undefined;
}

export function registerStudio(context: vscode.ExtensionContext, engine: EngineService): vscode.Disposable {
  const markdown = new MarkdownTarget();
  const services: StudioServices = { engine, markdown, tokens: new TokenCounter() };
  let current: StudioPanel | undefined;

  const adopt = (panel: vscode.WebviewPanel): StudioPanel => {
    panel.webview.options = webviewOptions(context.extensionUri);
    panel.iconPath = { light: vscode.Uri.joinPath(context.extensionUri, "media", "studio-icon-light.svg"), dark: vscode.Uri.joinPath(context.extensionUri, "media", "studio-icon-dark.svg") };
    panel.webview.html = studioHtml(panel.webview, context.extensionUri);
    const studio = new StudioPanel(panel, services);
    current = studio;
    const folders = vscode.workspace.onDidChangeWorkspaceFolders(() => {
      panel.webview.options = webviewOptions(context.extensionUri);
    });
    panel.onDidDispose(() => {
      folders.dispose();
      studio.dispose();
      if (current === studio) current = undefined;
    });
    return studio;
  };

  const open = (): StudioPanel => {
    if (current) {
      current.reveal();
      return current;
    }
    const panel = vscode.window.createWebviewPanel(STUDIO_VIEW_TYPE, "Easel Studio", vscode.ViewColumn.Beside, {
      ...webviewOptions(context.extensionUri),
      retainContextWhenHidden: true,
    });
    return adopt(panel);
  };

  const editImage = (mode: "inpaint" | "outpaint") => async (arg?: unknown) => {
    try {
      const uri = commandResource(arg);
      // Only a workspace image can be read back when the generation runs (and shown in the panel).
      if (!uri || !workspaceImageLocation(uri.toString(), (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri))) {
        throw new EaselError("bad-argument", `choose a ${IMAGE_KINDS} image in this workspace (explorer or image preview) to ${mode === "inpaint" ? "inpaint" : "extend"}`);
      }
      open().editImage(uri, mode);
    } catch (error) {
      await showError(error);
    }
  };

  return vscode.Disposable.from(
    markdown,
    { dispose: () => current?.panel.dispose() },
    vscode.commands.registerCommand("easel.openStudio", async (arg?: unknown) => {
      const studio = open();
      const infotext = infotextArg(arg);
      if (infotext) await studio.restoreFromInfotext(infotext, "the image's settings");
      const shown = typeof arg === "object" && arg !== null ? (arg as { show?: unknown }).show : undefined;
      if (typeof shown === "string") await studio.showResult(shown);
    }),
    vscode.commands.registerCommand("easel.inpaintImage", editImage("inpaint")),
    vscode.commands.registerCommand("easel.extendImage", editImage("outpaint")),
    vscode.window.registerWebviewPanelSerializer(STUDIO_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
        // Only one Studio: a second restored panel (two windows' worth of state) is closed.
        if (current) panel.dispose();
        else adopt(panel);
      },
    }),
  );
}
