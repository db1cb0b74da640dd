import { describe, expect, it } from "vitest";
import { tokenize } from "./rhai";

const types = (src: string) => tokenize(src).map((t) => [t.text, t.type]);

describe("the Rhai tokenizer", () => {
  it("reads the header: known keys, their values, the description", () => {
    const t = tokenize("//! Pause when full.\n//! priority: 100\n//! colour: blue\nlet x = 1;");
    expect(t.slice(0, 2)).toEqual([
      { text: "//!", type: "meta", line: 1 },
      { text: "Pause when full.", type: "comment", line: 1 },
    ]);
    expect(t.filter((x) => x.line === 2).map((x) => [x.text, x.type])).toEqual([
      ["//!", "meta"],
      ["priority:", "keyword"],
      ["100", "string"],
    ]);
    // Not a header key: prose.
    expect(t.filter((x) => x.line === 3).map((x) => x.type)).toEqual(["meta", "comment"]);
    // After the header, `//!` is a plain comment.
    expect(types("let a = 1;\n//! priority: 3")).toContainEqual(["//! priority: 3", "comment"]);
  });

  it("classes keywords, atoms, numbers, strings, operators, calls and properties", () => {
    expect(types('if team != () && team.utilisation > 0.9 { pause("full") } else { return true; }')).toEqual([
      ["if", "keyword"],
      ["team", "variable"],
      ["!=", "operator"],
      ["(", "punctuation"],
      [")", "punctuation"],
      ["&&", "operator"],
      ["team", "variable"],
      [".", "punctuation"],
      ["utilisation", "property"],
      [">", "operator"],
      ["0.9", "number"],
      ["{", "bracket"],
      ["pause", "variableName.function"],
      ["(", "punctuation"],
      ['"full"', "string"],
      [")", "punctuation"],
      ["}", "bracket"],
      ["else", "keyword"],
      ["{", "bracket"],
      ["return", "keyword"],
      ["true", "atom"],
      [";", "punctuation"],
      ["}", "bracket"],
    ]);
    expect(types("0x1F 1_000 2.5e3 h::gate")).toEqual([
      ["0x1F", "number"],
      ["1_000", "number"],
      ["2.5e3", "number"],
      ["h", "variable"],
      ["::", "operator"],
      ["gate", "variable"],
    ]);
  });

  it("reads backtick templates with code inside ${…}, even across lines and with braces", () => {
    const t = types("pause(`team ${team.name} at ${#{a: 1}.a}%\nstill ${x}`) // done");
    expect(t).toContainEqual(["`team ", "string"]);
    expect(t).toContainEqual(["${", "meta"]);
    expect(t).toContainEqual(["name", "property"]);
    expect(t).toContainEqual(["#{", "bracket"]);
    expect(t).toContainEqual(["%", "string"]);
    expect(t).toContainEqual(["still ", "string"]);
    expect(t).toContainEqual(["`", "string"]);
    expect(t).toContainEqual(["// done", "comment"]);
  });

  it("reads nested block comments and escaped quotes", () => {
    const t = types('/* a /* b */ still */ let s = "say \\"hi\\""; x');
    expect(t[0]).toEqual(["/* a /* b */ still */", "comment"]);
    expect(t).toContainEqual(['"say \\"hi\\""', "string"]);
    expect(t[t.length - 1]).toEqual(["x", "variable"]);
    const multi = tokenize("/* one\ntwo */ let");
    expect(multi.map((x) => [x.text, x.type])).toEqual([
      ["/* one", "comment"],
      ["two */", "comment"],
      ["let", "keyword"],
    ]);
  });
});
