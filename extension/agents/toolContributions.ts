// package.json's contributes.languageModelTools as the shared tool contract makes them: the names,
// the descriptions written for the model, and the argument schemas. The unit test compares
// package.json with this; `node --import tsx scripts/syncLanguageModelTools.ts` rewrites it.
import { IMAGE_TOOLS, type ImageTool, TOOL_NAMES, toolInputSchema, toolText } from "../engine/mcp/toolContract";

/** What a person sees (the tools picker, #-references); the model reads modelDescription. */
const USER_TEXT: Readonly<Record<ImageTool, { readonly referenceName: string; readonly displayName: string; readonly userDescription: string }>> = {
  generate: { referenceName: "easelImage", displayName: "Easel: Generate Image", userDescription: "Generate images with Stable Diffusion on this machine and save them in the workspace." },
  edit: { referenceName: "easelEditImage", displayName: "Easel: Edit Image", userDescription: "Make variations, inpaint or outpaint an image in the workspace (the original is kept)." },
  iconSet: { referenceName: "easelIconSet", displayName: "Easel: Icon Set", userDescription: "Make an app icon / favicon set from an image or a prompt." },
};

export interface LanguageModelToolContribution {
  readonly name: string;
  readonly toolReferenceName: string;
  readonly displayName: string;
  readonly userDescription: string;
  readonly modelDescription: string;
  readonly canBeReferencedInPrompt: true;
  readonly icon: string;
  readonly tags: readonly string[];
  readonly inputSchema: Record<string, unknown>;
}

export function languageModelToolContributions(): LanguageModelToolContribution[] {
  return IMAGE_TOOLS.map((tool) => ({
    name: TOOL_NAMES.vscode[tool],
    toolReferenceName: USER_TEXT[tool].referenceName,
    displayName: USER_TEXT[tool].displayName,
    userDescription: USER_TEXT[tool].userDescription,
    modelDescription: toolText(tool, "vscode").description,
    canBeReferencedInPrompt: true,
    icon: "$(symbol-color)",
    tags: ["image", "easel"],
    inputSchema: toolInputSchema(tool, "vscode"),
  }));
}
