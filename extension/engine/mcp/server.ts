// `easel mcp`'s tools as the Model Context Protocol sees them: names, descriptions written for the
// model that calls them, argument schemas, and results (text + a small PNG preview). Every failure
// is an `isError` result with Easel's one-line message, which the agent can read and act on.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { EaselError, firstLine } from "../errors";
import { ICON_SIZES } from "../image/iconRender";
import { PREVIEW_MAX_SIDE } from "../image/thumbnail";
import { MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SIDE, MAX_STEPS, MIN_SIDE } from "../pipeline/resolveRequest";
import { SCHEDULER_CHOICES } from "../schedulers/scheduler";
import { PROMPT_SYNTAXES } from "../text/a1111Prompt";
import { EASEL_VERSION } from "../version";
import { type CallContext, DEFAULT_DESTINATION, type ImageTools, MAX_COUNT, type ToolOutcome } from "./imageTools";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const seed = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)])
  .optional()
  .describe("Random seed (a whole number, or its decimal text for values past 2^53). Reusing a seed with the same parameters reproduces an image; omit for a new one.");

const generation = {
  prompt: z.string().max(MAX_PROMPT_CHARS).describe("What the image shows: subject, style, lighting, composition, in plain words (about 75 tokens are read)."),
  negative_prompt: z.string().max(MAX_PROMPT_CHARS).optional().describe("What to avoid (e.g. \"blurry, text, watermark\"); ignored by models run without guidance (turbo models)."),
  steps: z.number().int().min(1).max(MAX_STEPS).optional().describe("Denoising steps; omit for the model's default (25 for SD 1.x/SDXL, 1 for turbo, 4 for LCM). More is slower, rarely better past 30."),
  guidance: z.number().min(0).max(MAX_GUIDANCE).optional().describe("How closely to follow the prompt; omit for the model's default (7.5 for SD 1.x)."),
  seed,
  count: z.number().int().min(1).max(MAX_COUNT).optional().describe(`How many images (1..${MAX_COUNT}, default 1); image i uses seed + i.`),
  scheduler: z.enum(SCHEDULER_CHOICES).optional().describe("The sampler; omit to keep the model's own."),
  prompt_syntax: z.enum(PROMPT_SYNTAXES).optional().describe("plain (default): the prompt as written. a1111: (word:1.3) weights, [word], BREAK and prompts longer than 75 tokens."),
  destination: z
    .string()
    .optional()
    .describe(`Where to write, relative to the server's root folder: a folder, or a file name ending in .png. Default ${DEFAULT_DESTINATION}. Existing files are never replaced (a taken name gets -2, -3…); paths outside the root are refused.`),
  model: z.string().optional().describe("A model that is already downloaded (see list_models); omit for the server's default model."),
};

/** icon_set makes one source image. */
const { count: _count, ...withoutCount } = generation;

const SIZE_NOTE = `Sizes are ${MIN_SIDE}..${MAX_SIDE} px, a multiple of 8 (64 for some models); omit width and height for the model's native size (512 for SD 1.x and turbo, 768 for SD 2.x v-prediction, 1024 for SDXL): other sizes are slower and often worse.`;
const RESULT_NOTE = `The result lists each file's path and seed with a Markdown image link, and shows a preview (at most ${PREVIEW_MAX_SIDE} px).`;
const MODEL_NOTE = "Runs locally on the user's machine (seconds to minutes per image on a CPU); the model must already be downloaded — if it is not, the result says how to download it instead of downloading gigabytes unasked.";

export function createMcpServer(tools: ImageTools): McpServer {
  const server = new McpServer({ name: "easel", version: EASEL_VERSION.replace(/^easel-/, "") });

  server.registerTool(
    "generate_image",
    {
      title: "Generate image",
      description: `Make a new image from a text prompt with Stable Diffusion and save it as a PNG in the project. Use it when the user wants a picture, illustration, texture, placeholder or hero image made. ${SIZE_NOTE} ${MODEL_NOTE} ${RESULT_NOTE}`,
      inputSchema: {
        ...generation,
        width: z.number().int().min(MIN_SIDE).max(MAX_SIDE).optional().describe("Width in pixels; omit for the model's native size."),
        height: z.number().int().min(MIN_SIDE).max(MAX_SIDE).optional().describe("Height in pixels; omit for the model's native size."),
      },
    },
    (args, extra) =>
      call(extra, (ctx) =>
        tools.generateImage(
          { ...common(args), width: args.width, height: args.height },
          ctx,
        ),
      ),
  );

  server.registerTool(
    "edit_image",
    {
      title: "Edit image",
      description:
        "Make a new image from an existing one in the project, saved beside it (the original is never changed). Three modes: " +
        "variations / img2img (give only image and prompt; strength 0.3–0.5 keeps the composition, 0.8 keeps little), " +
        "inpainting (give a mask image of the same size: white areas are repainted from the prompt, black kept), " +
        "outpainting (give extend_left/right/top/bottom in pixels: the canvas grows and the new area is painted to match). " +
        `${MODEL_NOTE} ${RESULT_NOTE}`,
      inputSchema: {
        ...generation,
        prompt: generation.prompt.describe("What the result should show (for inpainting: what goes in the masked area, in the context of the whole picture)."),
        image: z.string().describe("The image to start from: a PNG, WebP or JPEG path relative to the root folder."),
        mask: z.string().optional().describe("Inpainting: a black-and-white image of the same size, relative to the root folder; white is repainted."),
        strength: z.number().gt(0).max(1).optional().describe("How much to change, in (0, 1]: default 0.8, or 1 with a mask."),
        extend_left: z.number().int().min(0).max(MAX_SIDE).optional().describe("Outpainting: pixels to add on the left."),
        extend_right: z.number().int().min(0).max(MAX_SIDE).optional().describe("Outpainting: pixels to add on the right."),
        extend_top: z.number().int().min(0).max(MAX_SIDE).optional().describe("Outpainting: pixels to add at the top."),
        extend_bottom: z.number().int().min(0).max(MAX_SIDE).optional().describe("Outpainting: pixels to add at the bottom."),
        destination: generation.destination.describe("Where to write, relative to the root folder: a folder or a .png file name. Default: the input image's folder. Never replaces a file."),
      },
    },
    (args, extra) =>
      call(extra, (ctx) =>
        tools.editImage(
          {
            ...common(args),
            image: args.image,
            mask: args.mask,
            strength: args.strength,
            extendLeft: args.extend_left,
            extendRight: args.extend_right,
            extendTop: args.extend_top,
            extendBottom: args.extend_bottom,
          },
          ctx,
        ),
      ),
  );

  server.registerTool(
    "icon_set",
    {
      title: "Icon set",
      description:
        `Make an app icon / favicon set: square PNGs at ${ICON_SIZES.join(", ")} px, centre-cropped, written to a new <name>-icons/ folder. ` +
        "Give image (an existing picture in the project) or prompt (an image is generated first, square, then cut into icons; describe a simple, bold subject on a plain background, which reads at 16 px). " +
        RESULT_NOTE,
      inputSchema: {
        ...withoutCount,
        prompt: generation.prompt.optional().describe("Generate the source image from this prompt (leave out when giving image)."),
        image: z.string().optional().describe("An existing PNG, WebP or JPEG, relative to the root folder, to make the icons from."),
        width: z.number().int().min(MIN_SIDE).max(MAX_SIDE).optional().describe("With prompt: the generated image's width; omit for the model's native size."),
        height: z.number().int().min(MIN_SIDE).max(MAX_SIDE).optional().describe("With prompt: the generated image's height."),
        destination: generation.destination.describe("A folder (relative to the root) to put the <name>-icons/ folder in; default beside the source image (generated ones go to assets/generated)."),
      },
    },
    (args, extra) => call(extra, (ctx) => tools.iconSet({ ...common({ ...args, prompt: args.prompt ?? "" }), prompt: args.prompt, image: args.image, width: args.width, height: args.height }, ctx)),
  );

  server.registerTool(
    "list_models",
    {
      title: "List models",
      description: "The Stable Diffusion models Easel knows: the catalog, which are downloaded, folders the user added, and the default this server uses. Call it before passing model to another tool, or when a tool says a model is missing.",
    },
    (extra) => call(extra, () => tools.listModels()),
  );
  return server;
}

/** The generation arguments every image tool shares, in ImageTools' names. */
function common(args: {
  prompt: string;
  negative_prompt?: string;
  steps?: number;
  guidance?: number;
  seed?: number | string;
  count?: number;
  scheduler?: (typeof SCHEDULER_CHOICES)[number];
  prompt_syntax?: (typeof PROMPT_SYNTAXES)[number];
  destination?: string;
  model?: string;
}) {
  return {
    prompt: args.prompt,
    negativePrompt: args.negative_prompt,
    steps: args.steps,
    guidance: args.guidance,
    seed: args.seed,
    count: args.count,
    scheduler: args.scheduler,
    promptSyntax: args.prompt_syntax,
    destination: args.destination,
    model: args.model,
  };
}

/** Signals the server aborts when the client goes away (see mcpCommand). */
const shutdown = new AbortController();
export function abortAllCalls(): void {
  shutdown.abort();
}

/**
 * Runs a tool with the request's cancellation (the client's notifications/cancelled, or the
 * client disconnecting) and step progress when the client asked for it; any error becomes an
 * `isError` result with its one line.
 */
async function call(extra: Extra, run: (ctx: CallContext) => Promise<ToolOutcome>): Promise<CallToolResult> {
  const signal = AbortSignal.any([extra.signal, shutdown.signal]);
  const token = extra._meta?.progressToken;
  const onStep =
    token === undefined
      ? undefined
      : (p: { image: number; images: number; step: number; steps: number }) => {
          void extra
            .sendNotification({
              method: "notifications/progress",
              params: { progressToken: token, progress: p.image * p.steps + p.step, total: p.images * p.steps, message: `image ${p.image + 1}/${p.images}, step ${p.step}/${p.steps}` },
            })
            .catch(() => undefined);
        };
  try {
    const outcome = await run({ signal, onStep });
    return {
      content: [{ type: "text", text: outcome.text }, ...outcome.previews.map((png) => ({ type: "image" as const, data: png.toString("base64"), mimeType: "image/png" }))],
    };
  } catch (error) {
    const message = error instanceof EaselError ? error.message : firstLine(error);
    return { content: [{ type: "text", text: `error: ${message}` }], isError: true };
  }
}
