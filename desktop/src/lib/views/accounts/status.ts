// An account's status as the table shows it (the codes are AccountSummary's `status`).

export interface StatusLabel {
  label: string;
  tone: "ok" | "warn" | "muted";
}

const STATUS: Record<string, StatusLabel> = {
  connected: { label: "Connected", tone: "ok" },
  reconsent_needed: { label: "Consent needed again", tone: "warn" },
  revoked: { label: "Revoked", tone: "warn" },
  not_connected: { label: "Not connected", tone: "muted" },
};

export function statusLabel(code: string): StatusLabel {
  return STATUS[code] ?? { label: code, tone: "muted" };
}

