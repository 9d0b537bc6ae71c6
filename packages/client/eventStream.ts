/**
 * A reader for `text/event-stream` bodies, after the WHATWG HTML "server-sent events"
 * parsing rules: lines end in CRLF, LF or CR; `event:` names the event, `data:` lines
 * are joined with newlines, a blank line dispatches, lines starting with `:` are comments
 * (the server's keepalives). We read the body ourselves rather than use `EventSource`,
 * which cannot send an `Authorization` header and does not exist in Node.
 */

export interface ServerEvent {
  readonly type: string;
  readonly data: string;
  /** The stream's last event id (the `id:` field, which persists across events), "" when none was sent. */
  readonly id: string;
}

export class EventStreamParser {
  #buffer = "";
  #type = "";
  #data: string[] = [];
  #id = "";

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): ServerEvent[] {
    const events: ServerEvent[] = [];
    this.#buffer += text;
    let start = 0;
    for (;;) {
      const lf = this.#buffer.indexOf("\n", start);
      const cr = this.#buffer.indexOf("\r", start);
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (end < 0) break;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (end === cr && end === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(start, end);
      start = end + (end === cr && this.#buffer[end + 1] === "\n" ? 2 : 1);
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string): ServerEvent | undefined {
    if (line === "") {
      const event = this.#data.length > 0 ? { type: this.#type || "message", data: this.#data.join("\n"), id: this.#id } : undefined;
      this.#type = "";
      this.#data = [];
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#type = value;
    else if (field === "data") this.#data.push(value);
    // An id with a NUL is ignored, as the standard says.
    else if (field === "id" && !value.includes("\0")) this.#id = value;
    return undefined;
  }
}
