// The engine process: forked by EngineClient with an IPC channel ('advanced' serialization, so
// bigint seeds and image bytes travel as they are). It exits when its parent goes away.
// First: it decides which ONNX Runtime this process loads (the CUDA folder's, when installed).
import "../gpu/preferProvisionedOrt";
import type { EngineEvent } from "./engineEvents";
import { EngineHost } from "./engineHost";

function send(event: EngineEvent): void {
  if (process.connected) process.send?.(event);
}

if (!process.send) {
  process.stderr.write("error: the engine process must be started by Easel (it talks over an IPC channel)\n");
  process.exit(2);
}

const host = new EngineHost(send);
process.on("message", (message: unknown) => {
  if (typeof message === "object" && message !== null && (message as { type?: unknown }).type === "dispose") {
    void host.dispose().finally(() => process.exit(0));
    return;
  }
  host.handle(message);
});
// No orphan engines: when the extension host dies or disconnects, this process goes too.
process.on("disconnect", () => process.exit(0));
send({ type: "ready", pid: process.pid });
