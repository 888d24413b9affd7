// The images generated into this workspace: the output folder of every workspace folder, plus the
// per-document `images/` folders (only PNGs that carry generation parameters there, since those
// folders also hold the user's own pictures). Descriptions come from the files' `parameters`
// metadata, so the gallery survives reloads; a file watcher keeps it current.
import * as vscode from "vscode";
import { IMAGE_NAME_GLOB, isImageFile } from "../assets/imageFiles";
import { outputFolder } from "../assets/outputLocation";
import { readSettings } from "../config";
import type { GalleryInfo, GalleryItem } from "../protocol/studioMessages";
import { readImageParameters } from "../workspaceImages";
import { galleryInfo } from "./galleryInfo";

const DOCUMENT_IMAGES_GLOB = "**/images/*.png";
/** The newest images shown; older ones stay on disk, one search away. */
const MAX_ITEMS = 200;
const MAX_DOCUMENT_IMAGES = 500;
const REFRESH_DELAY_MS = 300;

/** A gallery image as the host knows it; the webview only ever gets its `id` and URLs. */
export interface GalleryEntry {
  readonly uri: vscode.Uri;
  readonly infotext?: string;
  readonly info?: GalleryInfo;
}

interface CachedMetadata {
  readonly mtime: number;
  readonly size: number;
  readonly infotext?: string;
}

interface FoundFile {
  readonly uri: vscode.Uri;
  readonly mtime: number;
  readonly size: number;
  /** Outside the output folder: shown only when it carries generation parameters. */
  readonly needsParameters: boolean;
}

function outputFolders(): vscode.Uri[] {
  const settings = readSettings();
  return (vscode.workspace.workspaceFolders ?? []).flatMap((f) => {
    const path = outputFolder("workspace", settings.output.folder, { workspaceFolder: f.uri.path });
    return path ? [f.uri.with({ path })] : [];
  });
}

async function statOf(uri: vscode.Uri): Promise<vscode.FileStat | undefined> {
  try {
    return await vscode.workspace.fs.stat(uri);
  } catch {
    return undefined;
  }
}

export class Gallery implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires (debounced) when files in the watched folders change or the output settings do. */
  readonly onDidChange = this.changed.event;
  private entries = new Map<string, GalleryEntry>();
  private readonly metadata = new Map<string, CachedMetadata>();
  private watchers: vscode.Disposable[] = [];
  private readonly subscriptions: vscode.Disposable[];
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.watch();
    this.subscriptions = [
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration("easel.output")) return;
        this.watch();
        this.fireSoon();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.watch();
        this.fireSoon();
      }),
    ];
  }

  /** The entry behind an id the host issued; undefined for anything else. */
  lookup(id: string): GalleryEntry | undefined {
    return this.entries.get(id);
  }

  /** Registers a just-saved image (before the watcher reports it) and returns its gallery item. */
  add(uri: vscode.Uri, infotext: string | undefined, webview: vscode.Webview): GalleryItem {
    const entry: GalleryEntry = { uri, infotext, info: infotext ? galleryInfo(infotext) : undefined };
    this.entries.set(uri.toString(), entry);
    return this.item(entry, Date.now(), webview);
  }

  /** Reads the folders again: the newest images first, with what their metadata says. */
  async list(webview: vscode.Webview): Promise<{ items: GalleryItem[]; folders: string[] }> {
    const folders = outputFolders();
    const found = new Map<string, FoundFile>();
    for (const folder of folders) {
      let names: [string, vscode.FileType][] = [];
      try {
        names = await vscode.workspace.fs.readDirectory(folder);
      } catch {
        continue; // Not created yet: nothing generated here so far.
      }
      const uris = names.filter(([name, type]) => type === vscode.FileType.File && isImageFile(name)).map(([name]) => vscode.Uri.joinPath(folder, name));
      await this.collect(found, uris, false);
    }
    const documentImages = await vscode.workspace.findFiles(DOCUMENT_IMAGES_GLOB, "**/node_modules/**", MAX_DOCUMENT_IMAGES);
    await this.collect(found, documentImages.filter((u) => !found.has(u.toString())), true);
    const newest = [...found.values()].sort((a, b) => b.mtime - a.mtime);
    const entries = new Map<string, GalleryEntry>();
    const items: GalleryItem[] = [];
    for (const file of newest) {
      if (items.length >= MAX_ITEMS) break;
      const infotext = await this.parameters(file.uri, file.mtime, file.size);
      if (file.needsParameters && !infotext) continue;
      const entry: GalleryEntry = { uri: file.uri, infotext, info: infotext ? galleryInfo(infotext) : undefined };
      entries.set(file.uri.toString(), entry);
      items.push(this.item(entry, file.mtime, webview));
    }
    this.entries = entries;
    return { items, folders: folders.map((f) => vscode.workspace.asRelativePath(f)) };
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const d of [...this.watchers, ...this.subscriptions]) d.dispose();
    this.changed.dispose();
  }

  private async collect(found: Map<string, FoundFile>, uris: readonly vscode.Uri[], needsParameters: boolean): Promise<void> {
    const stats = await Promise.all(uris.map(statOf));
    uris.forEach((uri, i) => {
      const stat = stats[i];
      if (stat) found.set(uri.toString(), { uri, mtime: stat.mtime, size: stat.size, needsParameters });
    });
  }

  private item(entry: GalleryEntry, modified: number, webview: vscode.Webview): GalleryItem {
    return {
      id: entry.uri.toString(),
      uri: entry.uri.toString(),
      thumb: webview.asWebviewUri(entry.uri).toString(),
      name: vscode.workspace.asRelativePath(entry.uri),
      modified,
      info: entry.info,
    };
  }

  /** The `parameters` text of a PNG, read once per version of the file. */
  private async parameters(uri: vscode.Uri, mtime: number, size: number): Promise<string | undefined> {
    if (!/\.png$/i.test(uri.path)) return undefined;
    const key = uri.toString();
    const cached = this.metadata.get(key);
    if (cached && cached.mtime === mtime && cached.size === size) return cached.infotext;
    // Size- and length-capped (see workspaceImages.ts): a hostile PNG in the workspace costs little.
    const infotext = await readImageParameters(uri);
    this.metadata.set(key, { mtime, size, infotext });
    return infotext;
  }

  private watch(): void {
    for (const w of this.watchers) w.dispose();
    const settings = readSettings();
    const patterns = (vscode.workspace.workspaceFolders ?? []).flatMap((f) => {
      const path = outputFolder("workspace", settings.output.folder, { workspaceFolder: f.uri.path });
      const relative = path ? path.slice(f.uri.path.replace(/\/$/, "").length + 1) : "";
      return [
        new vscode.RelativePattern(f, relative ? `${relative}/${IMAGE_NAME_GLOB}` : IMAGE_NAME_GLOB),
        new vscode.RelativePattern(f, DOCUMENT_IMAGES_GLOB),
      ];
    });
    this.watchers = patterns.flatMap((pattern) => {
      const watcher = vscode.workspace.createFileSystemWatcher(pattern);
      return [watcher, watcher.onDidCreate(() => this.fireSoon()), watcher.onDidChange(() => this.fireSoon()), watcher.onDidDelete(() => this.fireSoon())];
    });
  }

  private fireSoon(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.changed.fire(), REFRESH_DELAY_MS);
  }
}
