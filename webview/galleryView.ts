// The gallery: the workspace's generated images, newest first. One Tab stop for the whole list
// (arrow keys move between images, Home/End jump), then the focused image's buttons; Enter opens,
// Delete moves to the trash. Images can be dragged into a Markdown editor (text/uri-list).
import { EASEL_IMAGE_MIME } from "../extension/protocol/dragTypes";
import type { GalleryAction, GalleryItem } from "../extension/protocol/studioMessages";
import { byId, h, show } from "./dom";
import { post } from "./vscodeApi";

const ACTIONS: readonly { readonly action: GalleryAction; readonly icon: string; readonly label: string }[] = [
  { action: "open", icon: "go-to-file", label: "Open" },
  { action: "insert", icon: "insert", label: "Insert into Markdown" },
  { action: "copyLink", icon: "link", label: "Copy Markdown link" },
  { action: "restore", icon: "history", label: "Restore settings into the form" },
  { action: "variations", icon: "sparkle", label: "Variations" },
  { action: "useAsInit", icon: "file-media", label: "Start from this image (img2img)" },
  { action: "reveal", icon: "folder-opened", label: "Reveal in Explorer" },
  { action: "delete", icon: "trash", label: "Move to trash" },
];

function describe(item: GalleryItem): string {
  const i = item.info;
  if (!i) return "no generation settings";
  return [
    i.seed === undefined ? undefined : `seed ${i.seed}`,
    i.width && i.height ? `${i.width}×${i.height}` : undefined,
    i.sampler,
    i.steps === undefined ? undefined : `${i.steps} steps`,
    i.model,
  ]
    .filter((s) => s !== undefined)
    .join(" · ");
}

export class GalleryView {
  private readonly list = byId("gallery", "ul");
  private readonly empty = byId("gallery-empty", "p");
  private items: readonly GalleryItem[] = [];
  private activeId: string | undefined;

  constructor() {
    byId("refresh-gallery", "vscode-button").addEventListener("click", () => post({ type: "refreshGallery" }));
    this.list.addEventListener("keydown", (e) => this.onKey(e));
    this.list.addEventListener("focusin", (e) => {
      const li = e.target instanceof Element ? e.target.closest<HTMLLIElement>(".gallery-item") : null;
      if (li?.dataset.id) this.activate(li.dataset.id, false);
    });
  }

  /** The seed of the newest image, for "Reuse Last" after a reload. */
  get newest(): GalleryItem | undefined {
    return this.items[0];
  }

  render(items: readonly GalleryItem[], folders: readonly string[]): void {
    const hadFocus = this.list.contains(document.activeElement);
    this.items = items;
    this.list.replaceChildren(...items.map((item) => this.renderItem(item)));
    show(this.empty, items.length === 0);
    this.empty.textContent = folders.length === 0 ? "Open a folder to keep a gallery of generated images." : `No images yet in ${folders.join(", ")}.`;
    const keep = items.some((i) => i.id === this.activeId) ? this.activeId : items[0]?.id;
    if (keep) this.activate(keep, hadFocus);
  }

  private renderItem(item: GalleryItem): HTMLLIElement {
    const prompt = item.info?.prompt ?? "";
    const title = prompt || item.name;
    const buttons = ACTIONS.map(({ action, icon, label }) => {
      const button = h("button", { type: "button", class: "icon-button", "data-action": action, title: label, "aria-label": label, tabindex: "-1" }, h("span", { class: `codicon codicon-${icon}`, "aria-hidden": "true" }));
      button.addEventListener("click", (e) => {
        e.stopPropagation();
        post({ type: "galleryAction", action, id: item.id });
      });
      return button;
    });
    const li = h(
      "li",
      { class: "gallery-item", "data-id": item.id, tabindex: "-1", draggable: "true", "aria-label": `${title} (${describe(item)})` },
      h("img", { src: item.thumb, alt: title, loading: "lazy", draggable: "false" }),
      h("div", { class: "caption", title: prompt || item.name }, title),
      h("div", { class: "meta", title: item.name }, describe(item)),
      h("div", { class: "item-actions", role: "toolbar", "aria-label": "Image actions" }, ...buttons),
    );
    li.addEventListener("dblclick", () => post({ type: "galleryAction", action: "open", id: item.id }));
    li.addEventListener("dragstart", (e) => {
      if (!e.dataTransfer) return;
      // Chromium blanks a file: URL put in text/uri-list when it leaves a web page, so the image's
      // URI travels in Easel's own type, which its Markdown drop provider reads.
      e.dataTransfer.setData(EASEL_IMAGE_MIME, item.uri);
      e.dataTransfer.setData("text/plain", item.uri);
      e.dataTransfer.effectAllowed = "copy";
    });
    return li;
  }

  /** Roving focus: only the active image (and its buttons) is in the Tab order. */
  private activate(id: string, focus: boolean): void {
    this.activeId = id;
    for (const li of this.list.querySelectorAll<HTMLLIElement>(".gallery-item")) {
      const active = li.dataset.id === id;
      li.tabIndex = active ? 0 : -1;
      for (const b of li.querySelectorAll<HTMLButtonElement>(".icon-button")) b.tabIndex = active ? 0 : -1;
      if (active && focus) li.focus();
    }
  }

  private onKey(e: KeyboardEvent): void {
    const li = e.target instanceof HTMLLIElement && e.target.classList.contains("gallery-item") ? e.target : undefined;
    if (!li?.dataset.id) return;
    const index = this.items.findIndex((i) => i.id === li.dataset.id);
    const columns = Math.max(1, Math.round(this.list.clientWidth / Math.max(1, li.offsetWidth)));
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns, Home: -index, End: this.items.length - 1 - index };
    if (e.key in moves) {
      const next = this.items[Math.min(this.items.length - 1, Math.max(0, index + moves[e.key]))];
      if (next) this.activate(next.id, true);
      e.preventDefault();
    } else if (e.key === "Enter") {
      post({ type: "galleryAction", action: "open", id: li.dataset.id });
      e.preventDefault();
    } else if (e.key === "Delete") {
      post({ type: "galleryAction", action: "delete", id: li.dataset.id });
      e.preventDefault();
    }
  }
}
