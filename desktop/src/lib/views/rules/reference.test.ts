import { CompletionContext } from "@codemirror/autocomplete";
import { EditorState } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import { DECISIONS, FACTS, HEADER_KEYS, LIBRARY, factTableFor, rhaiCompletion } from "./reference";

// The example rules and library of the repository (rules/), not the hostile corpus (scripts
// that use what does not exist on purpose).
const examples = import.meta.glob(
  ["../../../../../rules/**/*.rhai", "!../../../../../rules/fixtures/hostile/**"],
  {
    query: "?raw",
    import: "default",
    eager: true,
  },
) as Record<string, string>;

function complete(doc: string, explicit = false) {
  const state = EditorState.create({ doc });
  return rhaiCompletion(new CompletionContext(state, doc.length, explicit));
}

describe("the rule reference", () => {
  it("has the example rules to check against", () => {
    expect(Object.keys(examples).some((p) => p.endsWith("capacity_gate.rhai"))).toBe(true);
    expect(Object.keys(examples).length).toBeGreaterThanOrEqual(7);
  });

  it("lists every fact, decision function, header key and library function the examples use", () => {
    const decisions = new Set(DECISIONS.map((d) => d.name));
    for (const [path, src] of Object.entries(examples)) {
      const code = src.replace(/\/\/[^\n]*/g, "").replace(/"(?:[^"\\]|\\.)*"/g, '""');
      for (const m of code.matchAll(/\b(campaign|team|now|teams\[[^\]]*\])((?:\.[a-z_]+)+)/g)) {
        const parts = m[2].slice(1).split(".");
        let table = factTableFor(m[1])!;
        for (const p of parts) {
          if (!table || !(table in FACTS)) break;
          expect(FACTS[table].map((e) => e.name), `${path}: ${m[0]}`).toContain(p);
          table = `${table}.${p}`;
        }
      }
      for (const m of code.matchAll(/\b(pause|resume|set_[a-z_]+|notify|maximize_conversions|manual_cpc)\s*\(/g)) {
        expect(decisions.has(m[1]), `${path}: ${m[1]}`).toBe(true);
      }
      for (const m of src.matchAll(/^\/\/!\s*([a-z_]+):/gm)) {
        expect(HEADER_KEYS as readonly string[], `${path}: header ${m[1]}`).toContain(m[1]);
      }
      for (const m of src.matchAll(/import\s+"([a-z_]+)"\s+as\s+([a-z_]+)/g)) {
        expect(Object.keys(LIBRARY), path).toContain(m[1]);
        for (const call of code.matchAll(new RegExp(`\\b${m[2]}::([a-z_]+)`, "g"))) {
          expect(LIBRARY[m[1]].map((f) => f.name), `${path}: ${call[0]}`).toContain(call[1]);
        }
      }
    }
    // And the library's own functions.
    for (const [path, src] of Object.entries(examples)) {
      const lib = /\/lib\/([a-z_]+)\.rhai$/.exec(path);
      if (!lib) continue;
      const fns = [...src.matchAll(/^fn ([a-z_]+)\(/gm)].map((m) => m[1]);
      expect(LIBRARY[lib[1]].map((f) => f.name).sort()).toEqual(fns.sort());
    }
  });

  it("completes header keys, facts after a dot, library functions and names", () => {
    expect(complete("//! pri")!.options.map((o) => o.displayLabel)).toContain("priority");
    expect(complete("//! on: cap")!.options.map((o) => o.label)).toContain("capacity_changed");
    const team = complete("if team.")!;
    expect(team.options.map((o) => o.label)).toContain("utilisation");
    expect(complete('x = teams["sales-de"].fr')!.options.map((o) => o.label)).toContain("free_slots");
    expect(complete("campaign.today.")!.options.map((o) => o.label)).toEqual(
      FACTS["campaign.today"].map((e) => e.name),
    );
    expect(complete("let u = nothing.")).toBeNull();
    expect(complete('import "pacing" as p;\np::')!.options.map((o) => o.label)).toContain("clamp");
    const words = complete("pa")!.options.map((o) => o.label);
    expect(words).toContain("pause");
    expect(words).toContain("campaign");
  });
});
