// `easel mcp`'s tools as the Model Context Protocol sees them: the names, descriptions and argument
// schemas of the shared tool contract (toolContract.ts, which the VS Code tools use too), and
// results (text + a small PNG preview). Every failure is an `isError` result with Easel's one-line
// message, which the agent can read and act on.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { EaselError, firstLine } from "../errors";
import { EASEL_VERSION } from "../version";
import type { CallContext, ImageTools, ToolOutcome } from "./imageTools";
import { editParams, errorText, generateParams, iconSetParams, TOOL_NAMES, toolShapes, toolText } from "./toolContract";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export function createMcpServer(tools: ImageTools): McpServer {
  const server = new McpServer({ name: "easel", version: EASEL_VERSION.replace(/^easel-/, "") });
  const shapes = toolShapes("mcp");
  const names = TOOL_NAMES.mcp;
  const registration = <T extends keyof typeof shapes>(tool: T) => ({ ...toolText(tool, "mcp"), inputSchema: shapes[tool] });

  server.registerTool(names.generate, registration("generate"), (args, extra) => call(extra, (ctx) => tools.generateImage(generateParams(args), ctx)));
  server.registerTool(names.edit, registration("edit"), (args, extra) => call(extra, (ctx) => tools.editImage(editParams(args), ctx)));
  server.registerTool(names.iconSet, registration("iconSet"), (args, extra) => call(extra, (ctx) => tools.iconSet(iconSetParams(args), ctx)));
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
    return { content: [{ type: "text", text: errorText(message) }], isError: true };
  }
}
