// A `text/event-stream` parser (the HTML standard's "event stream interpretation"), fed the
// stream's text as it arrives in chunks of any size: a line, or a CRLF, may be split across
// two chunks. EventSource would parse this itself, but it cannot send the `Authorization`
// header the daemon's `GET /v1/events/stream` needs, so the HTTP backend reads that stream
// with `fetch` and this.

/** One event of the stream. */
export interface StreamEvent {
  /** The event's `id` field, when it had one (the daemon's: its log position). */
  id?: string;
  /** Its `event` field (`message` when it had none); the daemon's: the event type, or `error`. */
  event: string;
  /** Its `data` lines, joined by `\n`. */
  data: string;
}

export class SseParser {
  #buffer = "";
  /** The last chunk ended in `\r`: a `\n` starting the next one belongs to that line end. */
  #pendingCr = false;
  #first = true;
  #data: string[] = [];
  #event = "";
  #id: string | undefined;

  /** The events completed by `chunk` (a blank line ends an event). */
  feed(chunk: string): StreamEvent[] {
    if (this.#first && chunk.length > 0) {
      this.#first = false;
      if (chunk.startsWith("\uFEFF")) chunk = chunk.slice(1);
    }
    if (this.#pendingCr && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.#pendingCr = false;
    this.#buffer += chunk;
    const out: StreamEvent[] = [];
    let start = 0;
    for (;;) {
      const cr = this.#buffer.indexOf("\r", start);
      const lf = this.#buffer.indexOf("\n", start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      const line = this.#buffer.slice(start, end);
      start = end + 1;
      if (this.#buffer[end] === "\r") {
        if (start === this.#buffer.length) this.#pendingCr = true;
        else if (this.#buffer[start] === "\n") start++;
      }
      const event = this.#line(line);
      if (event) out.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  #line(line: string): StreamEvent | null {
    if (line === "") {
      // Dispatch; an event without data is dropped, as the standard says.
      const event: StreamEvent | null =
        this.#data.length > 0
          ? { event: this.#event || "message", data: this.#data.join("\n"), ...(this.#id !== undefined ? { id: this.#id } : {}) }
          : null;
      this.#data = [];
      this.#event = "";
      this.#id = undefined;
      return event;
    }
    if (line.startsWith(":")) return null; // a comment: the daemon's keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.#data.push(value);
        break;
      case "event":
        this.#event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.#id = value;
        break;
      // `retry` and unknown fields: ignored (the backend has its own backoff).
    }
    return null;
  }
}
