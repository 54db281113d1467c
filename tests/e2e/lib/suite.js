// One Gatehouse server and one browser for a test file, and browser profiles that are closed
// at the end of the run.

import { after, before } from "node:test";
import { startGatehouse } from "./server.js";
import { launch, openPage } from "./browser.js";

/**
 * Registers the file's before/after hooks; `setup(server)` runs once the server is up.
 * `serverOptions` go to startGatehouse (e.g. {publicHost: "localhost"}).
 */
export function gatehouseSuite(setup = async () => {}, serverOptions = {}) {
  const state = { server: undefined, browser: undefined, open: [] };
  before(async () => {
    state.server = await startGatehouse(serverOptions);
    state.browser = await launch();
    await setup(state.server);
  });
  after(async () => {
    for (const { context } of state.open) await context.close().catch(() => {});
    await state.browser?.close();
    await state.server?.stop();
  });
  return {
    get server() {
      return state.server;
    },
    /** A fresh browser profile (cookies) with a page; closed at the end of the run. */
    async newPage(options = {}) {
      const opened = await openPage(state.browser, { baseURL: state.server.url, ...options });
      state.open.push(opened);
      return opened;
    },
  };
}
