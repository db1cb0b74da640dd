import { describe, expect, it } from "vitest";
import { exportFileName, guessKind, lookupBody, searchProblem } from "./search";

describe("guessKind", () => {
  it("takes text with @ for an email", () => {
    expect(guessKind("ann@example.org")).toBe("email");
    expect(guessKind("  ANN@Example.org ")).toBe("email");
  });

  it("takes +country numbers and written-out numbers for a phone", () => {
    expect(guessKind("+31 20 123 4567")).toBe("phone");
    expect(guessKind("+31201234567")).toBe("phone");
    expect(guessKind("(020) 123-4567")).toBe("phone");
    expect(guessKind("0201234567")).toBe("phone");
  });

  it("takes anything else, bare digits included, for a lead id", () => {
    expect(guessKind("f-1029")).toBe("lead");
    expect(guessKind("1029384756")).toBe("lead");
    expect(guessKind("12-34")).toBe("lead");
    expect(guessKind("+")).toBe("lead");
  });
});

describe("searchProblem", () => {
  it("names the lead id field when the text cannot be one", () => {
    expect(searchProblem("lead", "f 1029")).toMatch(/^Lead id:/);
    expect(searchProblem("lead", "x".repeat(129))).toMatch(/^Lead id:/);
    expect(searchProblem("lead", "f-1029")).toBeNull();
    expect(searchProblem("email", "whatever")).toBeNull(); // the engine checks emails
    expect(searchProblem("phone", "  ")).toMatch(/Type a lead id/);
  });
});

describe("lookupBody and exportFileName", () => {
  it("sends only the field searched for, trimmed", () => {
    expect(lookupBody("email", " ann@example.org ")).toEqual({ email: "ann@example.org" });
    expect(lookupBody("phone", "+31 20 123 4567")).toEqual({ phone: "+31 20 123 4567" });
  });

  it("names the file as the API does, safe for any file system", () => {
    expect(exportFileName("0193b0c4-6f1e")).toBe("subject-0193b0c4-6f1e.json");
    expect(exportFileName("member:42")).toBe("subject-member_42.json");
  });
});
