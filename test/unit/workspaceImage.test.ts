// The Studio's init-image check: an id from the webview names a file inside a workspace folder, or
// nothing. Ids are written the way vscode.Uri.toString() writes them, plus hostile variants.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workspaceImageLocation, type UriLocation } from "../../extension/studio/workspaceImage";

const ws: UriLocation = { scheme: "file", authority: "", path: "/home/me/ws" };
const remote: UriLocation = { scheme: "vscode-remote", authority: "ssh-remote+box", path: "/srv/project" };
const win: UriLocation = { scheme: "file", authority: "", path: "/c:/Users/me/ws" };
const folders = [ws, remote];

describe("workspace image ids", () => {
  it("accepts an image inside a folder and returns its resolved location", () => {
    assert.deepEqual(workspaceImageLocation("file:///home/me/ws/art/cat.png", folders, "linux"), { scheme: "file", authority: "", path: "/home/me/ws/art/cat.png" });
    assert.deepEqual(workspaceImageLocation("file:///home/me/ws/my%20cat%20%281%29.JPG", folders, "linux")?.path, "/home/me/ws/my cat (1).JPG");
    assert.deepEqual(workspaceImageLocation("vscode-remote://ssh-remote%2Bbox/srv/project/a.webp", folders, "linux"), { scheme: "vscode-remote", authority: "ssh-remote+box", path: "/srv/project/a.webp" });
    // Dot segments that stay inside resolve to the file they name, which is what is then read.
    assert.deepEqual(workspaceImageLocation("file:///home/me/ws/art/../cat.png", folders, "linux")?.path, "/home/me/ws/cat.png");
  });

  it("refuses paths that climb out of the folder, however they are spelled", () => {
    const hostile = [
      "file:///home/me/ws/../secret.png",
      "file:///home/me/ws/../../../etc/shadow.png",
      "file:///home/me/ws/%2e%2e/secret.png",
      "file:///home/me/ws/%2E%2E/secret.png",
      "file:///home/me/ws/.%2E/secret.png",
      "file:///home/me/ws/art/..%2f..%2fsecret.png",
      "file:///home/me/ws/art/%2e%2e%2F%2e%2e%2Fsecret.png",
      "file:///home/me/ws/..\\secret.png",
      "file:///home/me/ws/%5c..%5csecret.png",
      "file:///home/me/ws/art\\..\\..\\secret.png",
      "file:///home/me/ws/a.png%00.png",
      "file:///home/me/ws/..",
      "file:///home/me/ws/.png/..",
      "vscode-remote://ssh-remote%2Bbox/srv/project/../other/a.png",
    ];
    for (const id of hostile) assert.equal(workspaceImageLocation(id, folders, "linux"), undefined, id);
  });

  it("compares whole path segments, not string prefixes", () => {
    assert.equal(workspaceImageLocation("file:///home/me/ws-other/a.png", folders, "linux"), undefined);
    assert.equal(workspaceImageLocation("file:///home/me/wsa.png", folders, "linux"), undefined);
    assert.equal(workspaceImageLocation("file:///home/me/ws.png", folders, "linux"), undefined);
  });

  it("refuses another scheme, host or folder, a non-image and malformed ids", () => {
    for (const id of [
      "file:///home/me/other/a.png",
      "file://otherhost/home/me/ws/a.png",
      "vscode-remote://ssh-remote%2Bother/srv/project/a.png",
      "http://example.com/home/me/ws/a.png",
      "vscode-vfs:/home/me/ws/a.png",
      "file:///home/me/ws/notes.md",
      "file:///home/me/ws/a.png.exe",
      "file:///home/me/ws/%E0%A4%A.png",
      "/home/me/ws/a.png",
      "home/me/ws/a.png",
      "",
    ]) {
      assert.equal(workspaceImageLocation(id, folders, "linux"), undefined, id);
    }
  });

  it("ignores case only where the file system does (Windows, macOS)", () => {
    assert.equal(workspaceImageLocation("file:///HOME/me/WS/a.png", folders, "linux"), undefined, "on Linux /HOME/me/WS is another folder");
    assert.equal(workspaceImageLocation("file:///home/me/ws/A.PNG", folders, "linux")?.path, "/home/me/ws/A.PNG");
    assert.equal(workspaceImageLocation("file:///HOME/me/WS/a.png", folders, "darwin")?.path, "/HOME/me/WS/a.png");
    assert.equal(workspaceImageLocation("file:///C%3A/users/ME/ws/a.png", [win], "win32")?.path, "/C:/users/ME/ws/a.png");
    assert.equal(workspaceImageLocation("file:///c%3A/Users/me/ws/%2E%2E/a.png", [win], "win32"), undefined);
    assert.equal(workspaceImageLocation("file:///c%3A/Users/me/ws/..%5Ca.png", [win], "win32"), undefined);
  });
});
