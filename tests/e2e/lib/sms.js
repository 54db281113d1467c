// Reads the development SMS file (<data_dir>/sms.jsonl, the `file` provider): one JSON line
// {to, body, sent_at} per message, `to` in E.164.

import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Every SMS sent so far, oldest first. */
export function readSms(dataDir) {
  let text;
  try {
    text = readFileSync(join(dataDir, "sms.jsonl"), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

/** How many SMS were sent so far (to wait for the ones after it). */
export function smsCount(dataDir) {
  return readSms(dataDir).length;
}

/**
 * Waits for an SMS to `to` (E.164) among those after the first `after` messages and returns
 * the 6-digit code in the newest one.
 */
export async function waitForCode(dataDir, to, { after = 0, timeoutMs = 15_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const messages = readSms(dataDir)
      .slice(after)
      .filter((m) => m.to === to && /\b\d{6}\b/.test(m.body));
    if (messages.length) {
      // As with mail: the outbox records the delivery just after writing the line; a person
      // never types a code within milliseconds of it arriving.
      await new Promise((r) => setTimeout(r, 300));
      return messages[messages.length - 1].body.match(/\b(\d{6})\b/)[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`No SMS with a code to ${to} within ${timeoutMs} ms`);
}
