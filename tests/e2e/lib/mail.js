// Reads the development maildir (<data_dir>/mail/new): RFC 5322 files, quoted-printable bodies.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Decodes quoted-printable text (soft line breaks and =XX bytes, as UTF-8). */
export function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, "");
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i];
    if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Every message in the maildir: {file, to, subject, text} (text is the decoded whole message). */
export function readMails(dataDir) {
  const dir = join(dataDir, "mail", "new");
  let files;
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .map((name) => ({ name, path: join(dir, name) }))
    .sort((a, b) => statSync(a.path).mtimeMs - statSync(b.path).mtimeMs || a.name.localeCompare(b.name))
    .map(({ name, path }) => {
      const raw = readFileSync(path, "utf8");
      const headerEnd = raw.search(/\r?\n\r?\n/);
      const headers = raw.slice(0, headerEnd);
      const header = (key) => headers.match(new RegExp(`^${key}:\\s*(.*)$`, "mi"))?.[1]?.trim() ?? "";
      return { file: name, to: header("To"), subject: header("Subject"), text: decodeQuotedPrintable(raw) };
    });
}

/** The names of the messages in the maildir now (to ignore them when waiting for a new one). */
export function mailFiles(dataDir) {
  return new Set(readMails(dataDir).map((m) => m.file));
}

/**
 * Waits for a message to `to` containing a link to `path` (e.g. "/verify-email") and returns
 * the link from the newest such message whose file is not in `ignore`.
 */
export async function waitForLink(dataDir, to, path, { timeoutMs = 15_000, ignore = new Set() } = {}) {
  const pattern = new RegExp(`https?://[^\\s"'<>]+${path.replace(/[/-]/g, "\\$&")}\\?token=[A-Za-z0-9_-]+`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const mails = readMails(dataDir).filter(
      (m) => !ignore.has(m.file) && m.to.toLowerCase().includes(to.toLowerCase()) && pattern.test(m.text),
    );
    if (mails.length) {
      // The outbox records the delivery in the database just after writing the file. A person
      // never clicks within milliseconds of delivery; a test would, and would then race that
      // write (which the server currently answers with a 500 "database is locked").
      await new Promise((r) => setTimeout(r, 300));
      return mails[mails.length - 1].text.match(pattern)[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`No email to ${to} with a ${path} link within ${timeoutMs} ms`);
}
