// Scenario fixtures (rules/fixtures/*.toml) in the Fixtures tab: which rules one names, so
// the editor's unsaved source is sent for this rule only when the fixture runs it.

/** The rule ids (file stems) of `rule = "…"` or `rules = ["…", …]` in a fixture's TOML. */
export function fixtureRuleIds(toml: string): string[] {
  const stem = (p: string) => p.replace(/^.*\//, "").replace(/\.rhai$/, "");
  const one = /^\s*rule\s*=\s*"([^"]*)"/m.exec(toml);
  if (one) return [stem(one[1])];
  const many = /^\s*rules\s*=\s*\[([^\]]*)\]/m.exec(toml);
  if (!many) return [];
  return [...many[1].matchAll(/"([^"]*)"/g)].map((m) => stem(m[1]));
}

/** A fixture to start from for rule `id`: one campaign, one step, nothing expected. */
export function fixtureTemplate(id: string): string {
  return `rule = "../${id}.rhai"
description = "what ${id} should do"
timezone = "UTC"

[teams.sales-nl]
agents_available = 4
max_open_leads = 40

[[campaigns]]
id = "111-222-3333/1001"
name = "Brand NL"
labels = ["capacity-gated"]
team = "sales-nl"
daily_budget = 50.0

[[steps]]
at = "2026-03-02T09:00:00Z"
note = "95 %: pause"
teams.sales-nl = { open_leads = 38 }
expect = [{ campaign = "111-222-3333/1001", action = "pause" }]
`;
}

/** The repository's example fixtures (rules/fixtures), bundled: name → TOML. */
const bundled = import.meta.glob("../../../../../rules/fixtures/*.toml", {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

export const EXAMPLE_FIXTURES: { name: string; toml: string; rules: string[] }[] = Object.entries(bundled)
  .map(([path, toml]) => ({ name: path.replace(/^.*\//, ""), toml, rules: fixtureRuleIds(toml) }))
  .sort((a, b) => a.name.localeCompare(b.name));
