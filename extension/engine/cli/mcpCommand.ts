// `easel mcp`: the image tools over the Model Context Protocol on stdio, for Claude Code, Cursor,
// VS Code and any other MCP client. Standard output carries the protocol only; log lines go to
// standard error. The client closing standard input (it quit or disconnected) cancels what runs.
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { badArgument } from "../errors";
import { ModelStore } from "../hub/store";
import { ImageTools } from "../mcp/imageTools";
import { abortAllCalls, createMcpServer } from "../mcp/server";
import { isProviderChoice, PROVIDER_NAMES } from "../onnx/providers";
import { RootFolder } from "../rootFolder";
import { parseCommandArgs, stringValue } from "./args";
import { MCP_HELP } from "./help";

const OPTIONS = {
  root: { type: "string" },
  model: { type: "string" },
  provider: { type: "string" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function mcpCommand(args: readonly string[]): Promise<number> {
  const { values } = parseCommandArgs("mcp", args, OPTIONS, false);
  if (values.help) {
    process.stdout.write(`${MCP_HELP}\n`);
    return 0;
  }
  const provider = stringValue(values, "provider") ?? "auto";
  if (!isProviderChoice(provider)) throw badArgument(`unknown provider "${provider}": use one of ${PROVIDER_NAMES.join(", ")}`);
  const root = await RootFolder.open(stringValue(values, "root") ?? process.cwd());
  const model = stringValue(values, "model");
  const tools = new ImageTools({ root, model, provider, store: ModelStore.open() });
  const server = createMcpServer(tools);
  const transport = new StdioServerTransport();

  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let closing = false;
  const close = (why: string) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`easel mcp: ${why}; stopping\n`);
    // A generation in flight sees the abort at its next step and writes nothing.
    abortAllCalls();
    void server
      .close()
      .catch(() => undefined)
      .then(() => tools.dispose())
      .catch(() => undefined)
      .then(() => finish(0));
  };
  process.stdin.once("end", () => close("the client closed the connection"));
  process.stdin.once("close", () => close("the client closed the connection"));
  process.once("SIGINT", () => close("interrupted"));
  process.once("SIGTERM", () => close("terminated"));
  await server.connect(transport);
  process.stderr.write(`easel mcp: serving ${root.dir}${model ? ` with ${model}` : ""} (provider ${provider})\n`);
  // The default model loads now, while the client initialises; a failure is reported per call.
  tools.preload().catch((error: unknown) => process.stderr.write(`easel mcp: ${model} not loaded yet: ${error instanceof Error ? error.message : String(error)}\n`));
  return finished;
}
