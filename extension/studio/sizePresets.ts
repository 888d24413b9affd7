// The Studio's size choice ("default", "custom" or a preset id) to and from a width and height; the
// presets themselves are the engine's (engine/model/imageSizes.ts).
import type { ModelGeometry } from "../engine/model/imageSizes";
import type { SizeChoice } from "../protocol/studioMessages";

/** The width and height a size choice stands for; undefined leaves the model's default. */
export function sizeFor(
  choice: SizeChoice,
  custom: { readonly width?: number; readonly height?: number },
  geometry: ModelGeometry,
): { readonly width?: number; readonly height?: number } {
  if (choice === "default") return {};
  if (choice === "custom") return { width: custom.width, height: custom.height };
  const preset = geometry.presets.find((p) => p.id === choice);
  return preset ? { width: preset.width, height: preset.height } : {};
}

/** The choice that reproduces a stored size: a preset when one matches, else custom. */
export function choiceForSize(width: number | undefined, height: number | undefined, geometry: ModelGeometry): SizeChoice {
  if (width === undefined || height === undefined) return "default";
  return geometry.presets.find((p) => p.width === width && p.height === height)?.id ?? "custom";
}

