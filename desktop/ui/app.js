// The desktop window: every action is one Tauri command (src-tauri/src/lib.rs), whose
// errors arrive as {code, message}.
const invoke = window.__TAURI__.core.invoke;

const $ = (id) => document.getElementById(id);

function showError(e) {
  const box = $("error");
  box.textContent = e && e.message ? e.message : String(e);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

const STATUS = {
  connected: "connected",
  reconsent_needed: "consent needed again",
  revoked: "revoked",
  not_connected: "not connected",
};

function renderAccounts(accounts) {
  const body = $("accounts").querySelector("tbody");
  body.replaceChildren();
  for (const a of accounts) {
    const tr = document.createElement("tr");
    tr.dataset.account = a.account;
    tr.append(
      cell(a.account, "account"),
      cell(STATUS[a.status] || a.status, `status status-${a.status}`),
      cell(a.customers.join(", "), "customers"),
      cell(a.connected_at ? new Date(a.connected_at).toLocaleString() : "", "connected-at"),
    );
    body.append(tr);
  }
  $("no-accounts").hidden = accounts.length > 0;
}

async function refresh() {
  const view = await invoke("overview");
  $("where").textContent =
    `${view.database} · master key: ${view.master_key} (check ${view.master_key_check})`;
  renderAccounts(view.accounts);
}

async function connect(event) {
  event.preventDefault();
  clearError();
  const account = $("account-name").value.trim();
  const button = $("connect");
  const status = $("consent-status");
  button.disabled = true;
  try {
    const started = await invoke("start_google_consent", { account });
    // The address as text to copy, not a link: a link would take this window to Google
    // instead of the browser.
    const page = document.createElement("code");
    page.id = "consent-page";
    page.textContent = started.consent_page;
    status.replaceChildren(
      started.browser_opened
        ? "Waiting for Google: finish the consent in your browser. If it did not open, open this address: "
        : "Your browser did not open: open this address in it to continue: ",
      page,
    );
    status.hidden = false;
    const connected = await invoke("finish_google_consent");
    status.textContent =
      `Connected ${connected.account}: ${connected.customers.length} customer(s) ${connected.customers.join(", ")}`;
    await refresh();
  } catch (e) {
    status.hidden = true;
    showError(e);
  } finally {
    button.disabled = false;
  }
}

window.addEventListener("DOMContentLoaded", () => {
  $("connect-form").addEventListener("submit", connect);
  refresh().catch((e) => {
    $("where").textContent = "Not open";
    $("connect").disabled = true;
    showError(e);
  });
});
