import { fireEvent, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderApp } from "../../../test/app";
import { localTime } from "../../format";
import { account, overview, until } from "../../../test/fixtures";

beforeEach(() => {
  window.location.hash = "#/accounts"; // the dashboard is the default view
  localStorage.clear();
});
afterEach(() => clearMocks());

const $ = (css: string) => document.querySelector<HTMLElement>(css);

describe("Accounts view", () => {
  it("lists the accounts with their status and customers, and the status line", async () => {
    renderApp((cmd) => {
      if (cmd !== "overview") throw new Error(cmd);
      return overview([
        account({ account: "agency-main", customers: ["1234567890", "2222222222"] }),
        account({
          account: "old",
          status: "reconsent_needed",
          reconsent_reason: "invalid_grant: Token has been expired or revoked.",
        }),
      ]);
    });
    await until(() => !!$('#accounts tr[data-account="old"]'), "the table");
    const main = $('#accounts tr[data-account="agency-main"]')!;
    expect(main.querySelector(".status")!.textContent).toBe("Connected");
    expect(main.querySelector(".customers")!.textContent).toBe("1234567890, 2222222222");
    const old = $('#accounts tr[data-account="old"]')!;
    expect(old.querySelector(".status")!.textContent).toBe("Consent needed again");
    expect(old.querySelector<HTMLElement>(".status")!.dataset.status).toBe("reconsent_needed");
    expect(old.querySelector(".notes")!.textContent).toContain("invalid_grant");
    expect($("#no-accounts")).toBeNull();
    expect($("#database")!.textContent).toContain("leadorch.db");
    expect($("#master-key")!.textContent!.trim()).toBe("Master key: OS keyring");
    expect($("#master-key-check")!.textContent).toContain("a1b2c3d4e5f6");
    expect(screen.getByRole("heading", { level: 1 }).textContent).toContain("Google accounts");
  });

  it("says until when Google's daily quota is exhausted while the hold is in force, and nothing once it is over", async () => {
    const end = new Date(Date.now() + 3 * 3600_000).toISOString();
    const ended = new Date(Date.now() - 3600_000).toISOString();
    renderApp(() =>
      overview([
        account({ account: "held", quota_exhausted_until: end }),
        account({ account: "over", quota_exhausted_until: ended }),
      ]),
    );
    await until(() => !!$('#accounts tr[data-account="over"]'), "the table");
    const held = $('#accounts tr[data-account="held"] .notes')!;
    expect(held.textContent!.replace(/\s+/g, " ").trim()).toBe(
      `Google's daily quota is exhausted until ${localTime(end)}; nothing is sent until then`,
    );
    expect($('#accounts tr[data-account="over"] .notes')!.textContent!.trim()).toBe("");
  });

  it("tells a new user what to do when no account is connected", async () => {
    renderApp(() => overview([]));
    await until(() => !!$("#no-accounts"), "the empty state");
    expect($("#no-accounts")!.textContent).toContain("No Google account connected yet");
    expect($("#no-accounts")!.textContent).toContain("Connect Google account");
    expect($("#accounts")).toBeNull();
    // Its button leads to the name field.
    await fireEvent.click(screen.getByRole("button", { name: /connect your first account/i }));
    expect(document.activeElement?.id).toBe("account-name");
  });

  it("in remote mode says accounts are connected on the daemon's machine, and offers no button that would be refused", async () => {
    const remote = { mode: "remote" as const, url: "https://leadorch.example:8650", key_name: null, reachable: true, error: null };
    const shell = { get: async () => remote, test: async () => remote, set: async () => remote };
    renderApp(() => overview([]), shell);
    await until(() => !!$("#connect-remote"), "the remote note");
    expect($("#connect-remote")!.textContent).toContain("https://leadorch.example:8650");
    expect($("#connect-remote")!.textContent).toContain("leadorch google connect --account NAME");
    expect($("#connect-form")).toBeNull();
    await until(() => !!$("#no-accounts"), "the empty state");
    expect($("#no-accounts")!.textContent).toContain("The daemon has no Google account connected yet");
    expect(screen.queryByRole("button", { name: /connect your first account/i })).toBeNull();
  });

  it("in local mode (the shell says so) keeps the connect form", async () => {
    const local = { mode: "local" as const, database: "sqlite:///data/leadorch.db" };
    const shell = { get: async () => local, test: async () => local, set: async () => local };
    renderApp(() => overview([]), shell);
    await until(() => !!$("#no-accounts"), "the empty state");
    await new Promise((r) => setTimeout(r, 20));
    expect($("#connect-form")).not.toBeNull();
    expect($("#connect-remote")).toBeNull();
  });

  it("shows why the app is not open and offers no connect", async () => {
    renderApp(() => {
      throw { code: "not_open", message: "the OS keyring is not available: start a Secret Service" };
    });
    await until(() => !!$("#error"), "the error");
    expect($("#error")!.textContent).toContain("The app could not open its database");
    expect($("#error")!.textContent).toContain("the OS keyring is not available");
    expect($("#where")!.textContent!.trim()).toBe("Not open");
    expect(($("#connect") as HTMLButtonElement).disabled).toBe(true);
    expect($("#no-accounts")).toBeNull();
  });

  it("connects an account through the browser flow and lists it", async () => {
    let accounts = [account()];
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    const { calls } = renderApp(async (cmd, args) => {
      switch (cmd) {
        case "overview":
          return overview(accounts);
        case "start_google_consent":
          return {
            account: args.account,
            consent_page: "https://accounts.example/o/oauth2/auth?state=x",
            browser_opened: true,
          };
        case "finish_google_consent":
          await finished;
          accounts = [...accounts, account({ account: "second", customers: ["3333333333"] })];
          return accounts[1];
      }
      throw new Error(cmd);
    });
    await until(() => !!$("#accounts"), "the table");
    const name = $("#account-name") as HTMLInputElement;
    await fireEvent.input(name, { target: { value: "second" } });
    await fireEvent.submit($("#connect-form")!);
    await until(() => !!$("#consent-page"), "the consent page");
    expect($("#consent-page")!.textContent).toBe("https://accounts.example/o/oauth2/auth?state=x");
    expect($("#consent-status")!.textContent).toContain("finish the consent in your browser");
    expect(($("#connect") as HTMLButtonElement).disabled).toBe(true);
    finish();
    await until(() => !!$('#accounts tr[data-account="second"]'), "the new row");
    expect($("#consent-status")!.textContent!.trim()).toBe(
      "Connected second: 1 customer(s) 3333333333",
    );
    expect(($("#connect") as HTMLButtonElement).disabled).toBe(false);
    expect(calls.map((c) => c.cmd)).toEqual([
      "overview",
      "start_google_consent",
      "finish_google_consent",
      "overview",
    ]);
    expect(calls[1].args).toEqual({ account: "second" });
  });

  it("refuses a bad name before any browser opens, and shows the shell's errors", async () => {
    const { calls } = renderApp((cmd) => {
      if (cmd === "overview") return overview([]);
      if (cmd === "start_google_consent") {
        throw { code: "consent", message: "Google answered access_denied" };
      }
      throw new Error(cmd);
    });
    await until(() => !!$("#no-accounts"), "the empty state");
    const name = $("#account-name") as HTMLInputElement;
    await fireEvent.input(name, { target: { value: "acme/ops" } });
    await fireEvent.submit($("#connect-form")!);
    expect($("#account-name-hint")!.textContent).toContain("letters, digits");
    expect(name.getAttribute("aria-invalid")).toBe("true");
    expect(calls.filter((c) => c.cmd === "start_google_consent")).toEqual([]);

    await fireEvent.input(name, { target: { value: "ops" } });
    await fireEvent.submit($("#connect-form")!);
    await until(() => !!$("#error"), "the error");
    expect($("#error")!.textContent).toContain("The Google consent did not complete");
    expect($("#error")!.textContent).toContain("Google answered access_denied");
    expect($("#consent-status")).toBeNull();
    expect(($("#connect") as HTMLButtonElement).disabled).toBe(false);
  });
});
