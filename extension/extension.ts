// Activation only registers: each feature exports registerX(...) returning a Disposable.
import type * as vscode from "vscode";
import { registerIconSetExport } from "./assets/iconSet";
import { EngineService } from "./engineService";
import { registerShowLog } from "./errorMessages";
import { registerCancelCommand } from "./generation/cancelCommand";
import { registerGenerateImageCommand } from "./generation/generateImageCommand";
import { PromptHistory } from "./generation/promptHistory";
import { registerUpscaleImage } from "./generation/upscaleImage";
import { registerVariations } from "./generation/variations";
import { registerImageDrop } from "./markdown/imageDrop";
import { registerImageHover } from "./markdown/imageHover";
import { registerMarkdownIllustration } from "./markdown/illustrate";
import { registerModelCommands } from "./models/modelCommands";
import { registerStatusBar } from "./statusBar";
import { registerStudio } from "./studio/registerStudio";

export function activate(context: vscode.ExtensionContext): void {
  const engine = new EngineService(context);
  const history = new PromptHistory(context.globalState);
  context.subscriptions.push(
    engine,
    registerGenerateImageCommand(engine, history),
    registerCancelCommand(engine),
    registerShowLog(engine),
    registerVariations(engine, history),
    registerUpscaleImage(context),
    registerMarkdownIllustration(engine),
    registerImageHover(),
    registerImageDrop(),
    registerIconSetExport(),
    registerModelCommands(engine),
    registerStatusBar(engine),
    registerStudio(context, engine),
  );
}

export function deactivate(): void {
  // The engine process is stopped by EngineService.dispose, through context.subscriptions.
}
