import { describe, expect, it } from "vitest";
import { SseParser, type StreamEvent } from "./sse";

/** Everything `chunks` give, fed one after another to one parser. */
function parse(...chunks: string[]): StreamEvent[] {
  const p = new SseParser();
  return chunks.flatMap((c) => p.feed(c));
}

describe("SseParser", () => {
  it("reads the daemon's events: id, event and data", () => {
    expect(
      parse('id: 42\nevent: LeadReceived\ndata: {"position":42}\n\nid: 43\nevent: TeamCreated\ndata: {"position":43}\n\n'),
    ).toEqual([
      { id: "42", event: "LeadReceived", data: '{"position":42}' },
      { id: "43", event: "TeamCreated", data: '{"position":43}' },
    ]);
  });

  it("keeps a line split across chunks, even inside a field name or a CRLF", () => {
    expect(parse("i", "d: 4", "2\r", "\nev", "ent: LeadRe", "ceived\r\ndata: {}\r", "\n\r", "\n")).toEqual([
      { id: "42", event: "LeadReceived", data: "{}" },
    ]);
    // A lone CR ends a line too, and one at a chunk's end is not doubled by the next chunk.
    expect(parse("data: a\r", "\r")).toEqual([{ event: "message", data: "a" }]);
  });

  it("gives nothing until the blank line that ends an event", () => {
    const p = new SseParser();
    expect(p.feed("id: 1\ndata: x\n")).toEqual([]);
    expect(p.feed("\n")).toEqual([{ id: "1", event: "message", data: "x" }]);
  });

  it("skips comments (the keep-alive) and unknown fields, and drops events without data", () => {
    expect(parse(":\n\n: keep-alive\n\nretry: 5000\nfoo: bar\n\nid: 7\n\ndata: only\n\n")).toEqual([
      { event: "message", data: "only" },
    ]);
  });

  it("joins data lines, strips one leading space and takes a field without a colon as empty", () => {
    expect(parse("data:  two spaces\ndata:tight\ndata\n\n")).toEqual([
      { event: "message", data: " two spaces\ntight\n" },
    ]);
  });

  it("reads the error event the daemon ends a failed stream with", () => {
    expect(parse('event: error\ndata: {"status":500,"title":"Store"}\n\n')).toEqual([
      { event: "error", data: '{"status":500,"title":"Store"}' },
    ]);
  });

  it("drops a byte order mark at the start only", () => {
    expect(parse("\uFEFFdata: a\n\n", "data: \uFEFFb\n\n")).toEqual([
      { event: "message", data: "a" },
      { event: "message", data: "\uFEFFb" },
    ]);
  });
});
