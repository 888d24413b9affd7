// The one list of image files Easel reads from a workspace (the gallery, img2img's starting image,
// drag-and-drop into Markdown): the formats it also writes, which sharp decodes.
export const IMAGE_EXTENSIONS = ["png", "webp", "jpg", "jpeg"] as const;

const IMAGE_FILE = new RegExp(`\\.(${IMAGE_EXTENSIONS.join("|")})$`, "i");

/** Whether a file name or path names an image Easel reads. */
export function isImageFile(name: string): boolean {
  return IMAGE_FILE.test(name);
}

/** A glob for those images in one folder (a file watcher's pattern). */
export const IMAGE_NAME_GLOB = `*.{${IMAGE_EXTENSIONS.join(",")}}`;

/** A glob for `workspace.findFiles` that matches those images anywhere. */
export const IMAGE_GLOB = `**/${IMAGE_NAME_GLOB}`;

/** The list for messages: "PNG, WebP or JPEG". */
export const IMAGE_KINDS = "PNG, WebP or JPEG";

/** package.json's `when` clause for commands on such an image (explorer, editor title); a test keeps the manifest in step. */
export const IMAGE_WHEN = `resourceExtname =~ /\\.(${IMAGE_EXTENSIONS.join("|")})$/i`;
