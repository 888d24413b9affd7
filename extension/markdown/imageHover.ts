// Hovering an image link in Markdown shows how the image was made (from its PNG metadata), with
// "Regenerate" and "Variations" links.
import * as vscode from "vscode";
import { describeStep } from "../engine/assets/assetRecord";
import { infotextFields, parseInfotext } from "../engine/image/infotext";
import { assetEntryFor } from "../assets/assetLock";
import { readImageParameters } from "../workspaceImages";

const IMAGE_LINK = /!\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;

function linkAt(line: string, character: number): string | undefined {
  for (const m of line.matchAll(IMAGE_LINK)) {
    if (m.index !== undefined && m.index <= character && character <= m.index + m[0].length) return m[1];
  }
  return undefined;
}

function commandLink(title: string, command: string, args: unknown[]): string {
  return `[${title}](command:${command}?${encodeURIComponent(JSON.stringify(args))})`;
}

const escape = (s: string) => s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, "\\$&");

class ImageHover implements vscode.HoverProvider {
  async provideHover(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    const target = linkAt(document.lineAt(position.line).text, position.character);
    if (!target || /^[a-z]+:/i.test(target)) return undefined;
    const uri = vscode.Uri.joinPath(document.uri, "..", decodeURIComponent(target));
    let problem: string | undefined;
    const text = await readImageParameters(uri, (reason) => (problem = reason));
    if (problem !== undefined) {
      // Say why instead of showing nothing: a PNG too large, or parameters too long, to be read.
      return new vscode.Hover(new vscode.MarkdownString(`**Easel** · no readable parameters: ${escape(problem.slice(0, 300))}`));
    }
    if (!text) return undefined;
    const parsed = parseInfotext(text);
    const f = infotextFields(parsed);
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ["easel.regenerate", "easel.variations"] };
    md.appendMarkdown(`**Easel** · ${escape(parsed.prompt.slice(0, 300))}\n\n`);
    const facts = [`seed ${f.seed ?? "?"}`, f.model ? `model ${escape(f.model)}` : undefined, f.sampler ? escape(f.sampler) : undefined, f.steps ? `${f.steps} steps` : undefined];
    md.appendMarkdown(`${facts.filter(Boolean).join(" · ")}\n\n`);
    const entry = await assetEntryFor(uri);
    if (entry?.generation) {
      const m = entry.generation.model;
      const where = m.repo && m.commit ? `${m.catalogId ?? m.repo} @ ${m.commit.slice(0, 12)}` : (m.folder ?? m.name);
      md.appendMarkdown(`Recorded in easel-assets.json · ${escape(where)} · ${escape(entry.pixels.slice(0, 19))}… (\`easel assets check\`)\n\n`);
    } else if (entry?.source) {
      // Made by post-processing another image (a cut-out, an upscale): its source and steps.
      const steps = entry.post.map(describeStep).join(", ");
      md.appendMarkdown(`Recorded in easel-assets.json · from ${escape(entry.source.path ?? "an image kept in the entry")} · ${escape(steps)} · ${escape(entry.pixels.slice(0, 19))}…\n\n`);
    }
    md.appendMarkdown(`${commandLink("$(refresh) Regenerate", "easel.regenerate", [uri.toString()])} · ${commandLink("$(sparkle) Variations", "easel.variations", [uri.toString()])}`);
    return new vscode.Hover(md);
  }
}

export function registerImageHover(): vscode.Disposable {
  return vscode.languages.registerHoverProvider({ language: "markdown" }, new ImageHover());
}
