// Data for the front-end tests, typed by the generated Rust types.
import type { AccountSummary } from "../generated/AccountSummary";
import type { Overview } from "../generated/Overview";

export function account(over: Partial<AccountSummary> = {}): AccountSummary {
  return {
    account: "agency-main",
    status: "connected",
    customers: ["1234567890"],
    connected_at: "2026-12-01T09:30:00Z",
    reconsent_reason: null,
    data_deleted_at: null,
    quota_exhausted_until: null,
    ...over,
  };
}

export function overview(accounts: AccountSummary[] = []): Overview {
  return {
    database: "sqlite:///home/op/.local/share/leadorch/leadorch.db",
    master_key: "OS keyring",
    master_key_check: "a1b2c3d4e5f6",
    accounts,
  };
}

/** Waits until `check` holds (for promises the UI awaits). */
export async function until(check: () => boolean, what = "condition", ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
