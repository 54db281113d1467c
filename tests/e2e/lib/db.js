// Changes the server's database behind its back, for states the API cannot produce within a
// test: a message the outbox gave up on takes 12 failed attempts over hours. Uses the sqlite3
// command (Debian package sqlite3); the server keeps running (SQLite's WAL allows a second
// writer to wait its turn).

import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** Runs one SQL statement on <data_dir>/gatehouse.db; resolves with its output, trimmed. */
export function sql(dataDir, statement) {
  try {
    return execFileSync("sqlite3", ["-cmd", ".timeout 10000", join(dataDir, "gatehouse.db"), statement], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch (error) {
    if (error.code === "ENOENT") throw new Error("this test needs the sqlite3 command: apt-get install sqlite3");
    throw new Error(`sqlite3 failed: ${error.stderr || error.message}`);
  }
}
