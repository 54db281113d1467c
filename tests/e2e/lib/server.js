// Starts the real gatehouse binary on a free port with a temporary data directory.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const BIN =
  process.env.GATEHOUSE_BIN || join(homedir(), ".cache", "gatehouse-target", "debug", "gatehouse");

/** A port free on 127.0.0.1 now (the server gets it a moment later). */
async function freePort() {
  const probe = createServer();
  await new Promise((resolve, reject) => probe.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Starts Gatehouse. Options: campuses, a list of [name, domain] added with the CLI first;
 * publicHost, a host name for `server.public_url` (passkeys need one: WebAuthn refuses an IP
 * address as the relying party's id), e.g. "localhost", which then needs a port chosen here,
 * before the server starts; `url` is then http://<publicHost>:<port>, the address to browse.
 * Resolves with {url, dataDir, bootstrapLink, stop(), output()}.
 */
export async function startGatehouse({ campuses = [["North", "north.edu"]], publicHost = null } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`No gatehouse binary at ${BIN}: build it (cargo build) or set GATEHOUSE_BIN`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-e2e-"));
  const env = { ...process.env };
  // Gatehouse refuses unknown GATEHOUSE_* variables as configuration errors, and
  // GATEHOUSE_BIN (where the binary is) is one: the server must not see it.
  delete env.GATEHOUSE_BIN;
  Object.assign(env, {
    GATEHOUSE_STORAGE__DATA_DIR: dataDir,
    GATEHOUSE_SERVER__LISTEN: "127.0.0.1:0",
    // The captcha is on, as in production, with a low difficulty so that tests stay fast: the
    // pages solve it in their Web Worker, the helpers in node.
    GATEHOUSE_CAPTCHA__ENABLED: "true",
    GATEHOUSE_CAPTCHA__DIFFICULTY: "12",
    // The rate limits stay on, but the tests sign the same student in (and ask for codes for
    // the same phone) more often than the 5 per 15 minutes a person gets per account and
    // address: allow as many per account as per address.
    GATEHOUSE_RATE_LIMIT__AUTH_PER_ACCOUNT: "100",
    GATEHOUSE_LOG__LEVEL: process.env.GATEHOUSE_LOG__LEVEL || "warn",
  });
  let publicUrl = null;
  if (publicHost) {
    const port = await freePort();
    publicUrl = `http://${publicHost}:${port}`;
    env.GATEHOUSE_SERVER__LISTEN = `127.0.0.1:${port}`;
    env.GATEHOUSE_SERVER__PUBLIC_URL = publicUrl;
  }
  for (const [name, domain] of campuses) {
    execFileSync(BIN, ["campus", "add", "--name", name, "--domain", domain], { env, stdio: "pipe" });
  }

  const child = spawn(BIN, [], { env, stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  let url = null;
  let bootstrapLink = null;

  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Gatehouse did not start in 30 s:\n${lines.join("\n")}`)), 30_000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const read = (stream) => {
      createInterface({ input: stream }).on("line", (line) => {
        lines.push(line);
        const serving = line.match(/^Gatehouse \S+ is serving on (\S+)/);
        if (serving) url = `http://${serving[1]}`;
        const boot = line.match(/^ {2}Bootstrap:\s+(\S+)/);
        if (boot) bootstrapLink = boot[1];
        // The bootstrap link (printed after the address) is followed by this hint.
        if (url && (bootstrapLink || line.includes("admin create"))) done();
      });
    };
    read(child.stdout);
    read(child.stderr);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Gatehouse exited with ${code} before serving:\n${lines.join("\n")}`));
    });
  });
  await ready;
  if (publicUrl) url = publicUrl;

  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timeout = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timeout);
    }
    if (!process.env.E2E_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, dataDir, bootstrapLink, stop, output: () => lines.join("\n") };
}
