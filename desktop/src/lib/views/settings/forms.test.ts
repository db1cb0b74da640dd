import { describe, expect, it } from "vitest";
import { ApiProblem } from "../../backend";
import { isAddressOrNetwork, keyNameProblem, parseAllowIps, problemsByField, webhookUrlProblem } from "./forms";

describe("allowed addresses", () => {
  it("takes what the engine's parse_allow takes", () => {
    for (const ok of [
      "192.0.2.7",
      "203.0.113.0/24",
      "10.0.0.1/8",
      "0.0.0.0/0",
      "2001:db8::/32",
      "::1",
      "::",
      "fe80::1:2:3:4",
      "1:2:3:4:5:6:7:8",
      "::ffff:192.0.2.1",
      "2001:db8::/128",
    ]) {
      expect(isAddressOrNetwork(ok), ok).toBe(true);
    }
  });

  it("refuses what it refuses", () => {
    for (const bad of [
      "",
      "bogus",
      "256.1.1.1",
      "1.2.3",
      "010.0.0.1",
      "10.0.0.0/33",
      "10.0.0.0/",
      "10.0.0.0/8/8",
      "2001:db8::/129",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::",
      ":1::",
      "::ffff:192.0.2.1:1",
      "example.com",
    ]) {
      expect(isAddressOrNetwork(bad), bad).toBe(false);
    }
  });

  it("splits on commas, spaces and lines, and names every bad entry", () => {
    expect(parseAllowIps("")).toEqual({ entries: [], problem: null });
    expect(parseAllowIps(" 192.0.2.7,\n2001:db8::/32 ")).toEqual({ entries: ["192.0.2.7", "2001:db8::/32"], problem: null });
    const { problem } = parseAllowIps("198.51.100.1, 1.2.3.4/40");
    expect(problem).toContain('"1.2.3.4/40" is not an address or network');
    expect(problem).not.toContain("198.51.100.1");
  });
});

describe("the other fields", () => {
  it("checks a key's name as the engine does", () => {
    expect(keyNameProblem("")).toContain("Name the key");
    expect(keyNameProblem("   ")).toContain("Name the key");
    expect(keyNameProblem("a".repeat(64))).toBeNull();
    expect(keyNameProblem("a".repeat(65))).toContain("64");
    expect(keyNameProblem("bad\tname")).toContain("control");
    expect(keyNameProblem("hubspot-prod")).toBeNull();
  });

  it("checks a webhook URL's form", () => {
    expect(webhookUrlProblem("")).toContain("Give the address");
    expect(webhookUrlProblem("hooks.example.com")).toContain("is not a URL");
    expect(webhookUrlProblem("ftp://x.example.com")).toContain("https://");
    expect(webhookUrlProblem("https://hooks.example.com/leadorch")).toBeNull();
  });

  it("files the API's problems under the form's fields", () => {
    expect(problemsByField(new ApiProblem(422, { title: "Invalid field", field: "allow_ips[2]", detail: "bad" }))).toEqual({ allow_ips: "bad" });
    expect(
      problemsByField(
        new ApiProblem(422, {
          title: "Invalid field",
          field: "events[0]",
          detail: "unknown type",
          errors: [
            { field: "events[0]", problem: "unknown type" },
            { field: "url", problem: "not https" },
          ],
        }),
      ),
    ).toEqual({ events: "unknown type", url: "not https" });
    expect(problemsByField(new ApiProblem(403, { title: "Forbidden", detail: "not an admin key" }))).toEqual({ "": "Forbidden: not an admin key" });
  });
});
