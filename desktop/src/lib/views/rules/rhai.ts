// Rhai for CodeMirror 6: a small stream tokenizer (no ready Rhai mode exists,
// rhaiscript/rhai#499) with the token classes of the Rhai playground's CodeMirror 5 mode,
// plus the rule header (`//! key: value`) the engine reads (engine/rules/src/meta.rs).
import { StreamLanguage, StringStream, type StreamParser } from "@codemirror/language";
import { HEADER_KEYS } from "./reference";

const KEYWORDS = new Set([
  "let", "const", "if", "else", "switch", "do", "while", "until", "loop", "for", "in",
  "continue", "break", "return", "throw", "try", "catch", "fn", "private", "import",
  "export", "as", "global", "this", "is_shared", "Fn", "call", "curry", "type_of", "print",
  "debug",
]);
const ATOMS = new Set(["true", "false"]);
const OPERATOR = /^(?:\.\.=|\.\.|::|\?\.|\?\?|\?\[|<<=|>>=|\*\*=|[-+*/%&|^<>=!]=|&&|\|\||<<|>>|\*\*|=>|->|[-+*/%&|^<>=!~?:])/;
const NUMBER = /^(?:0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][-+]?\d+)?)/;

/** Where the tokenizer is: code (maybe inside `${…}`), a backtick string, a block comment. */
export interface RhaiState {
  /** Innermost last: `code` (with its open braces), `template` (a backtick string). */
  stack: { kind: "code" | "template"; braces: number }[];
  /** Nesting depth of `/* … *\/` comments (Rhai nests them). */
  comment: number;
  /** Still in the leading `//!` header (only comments and blank lines so far). */
  header: boolean;
}

function top(s: RhaiState) {
  return s.stack[s.stack.length - 1];
}

function blockComment(stream: StringStream, state: RhaiState): string {
  while (!stream.eol()) {
    if (stream.match("/*")) state.comment++;
    else if (stream.match("*/")) {
      state.comment--;
      if (state.comment === 0) break;
    } else stream.next();
  }
  return "comment";
}

function template(stream: StringStream, state: RhaiState): string {
  if (stream.match("${")) {
    state.stack.push({ kind: "code", braces: 0 });
    return "meta";
  }
  while (!stream.eol()) {
    if (stream.peek() === "`") {
      stream.next();
      state.stack.pop();
      return "string";
    }
    if (stream.match("${", false)) return "string";
    if (stream.next() === "\\") stream.next();
  }
  return "string";
}

function quoted(stream: StringStream, quote: string): string {
  let escaped = false;
  let ch: string | void;
  while ((ch = stream.next()) !== undefined) {
    if (ch === quote && !escaped) break;
    escaped = !escaped && ch === "\\";
  }
  return "string";
}

export const rhaiParser: StreamParser<RhaiState> = {
  name: "rhai",
  startState: () => ({ stack: [{ kind: "code", braces: 0 }], comment: 0, header: true }),
  copyState: (s) => ({ stack: s.stack.map((f) => ({ ...f })), comment: s.comment, header: s.header }),
  token(stream, state) {
    if (state.comment > 0) return blockComment(stream, state);
    const frame = top(state);
    if (frame.kind === "template") return template(stream, state);
    if (stream.eatSpace()) return null;
    // The header: `//!` lines at the very top; `key:` of a known key is its own token.
    if (stream.sol() && stream.match("//!")) {
      if (!state.header) {
        stream.skipToEnd();
        return "comment";
      }
      return "meta";
    }
    if (state.header && stream.start > 0 && stream.string.startsWith("//!")) {
      const before = stream.string.slice(0, stream.start);
      if (/^\/\/!\s*[a-z_]+:\s*$/.test(before)) {
        stream.skipToEnd();
        return "string"; // a key's value
      }
      const key = stream.match(/^([a-z_]+):/, false) as RegExpMatchArray | null;
      if (key && /^\/\/!\s*$/.test(before) && (HEADER_KEYS as readonly string[]).includes(key[1])) {
        stream.match(/^[a-z_]+:/);
        return "keyword";
      }
      stream.skipToEnd();
      return "comment"; // the description
    }
    state.header = false;
    if (stream.match("//")) {
      stream.skipToEnd();
      return "comment";
    }
    if (stream.match("/*")) {
      state.comment = 1;
      return blockComment(stream, state);
    }
    const ch = stream.peek()!;
    if (ch === "`") {
      stream.next();
      state.stack.push({ kind: "template", braces: 0 });
      return template(stream, state);
    }
    if (ch === '"' || ch === "'") {
      stream.next();
      return quoted(stream, ch);
    }
    if (stream.match(NUMBER)) return "number";
    if (ch === "{") {
      stream.next();
      frame.braces++;
      return "bracket";
    }
    if (ch === "}") {
      stream.next();
      if (frame.braces === 0 && state.stack.length > 1) {
        state.stack.pop(); // the `}` closing a `${`
        return "meta";
      }
      frame.braces = Math.max(0, frame.braces - 1);
      return "bracket";
    }
    if (stream.match("#{")) {
      frame.braces++;
      return "bracket";
    }
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
    if (word) {
      const w = word[0];
      if (KEYWORDS.has(w)) return "keyword";
      if (ATOMS.has(w)) return "atom";
      if (stream.match(/^\s*\(/, false)) return "variableName.function";
      if (stream.string.charAt(stream.start - 1) === ".") return "property";
      return "variable";
    }
    if (stream.match(OPERATOR)) return "operator";
    if (/[[\]();,.]/.test(ch)) {
      stream.next();
      return "punctuation";
    }
    stream.next();
    return null;
  },
  languageData: {
    commentTokens: { line: "//", block: { open: "/*", close: "*/" } },
    closeBrackets: { brackets: ["(", "[", "{", '"', "`"] },
  },
};

export const rhaiLanguage = StreamLanguage.define(rhaiParser);

/** The tokens of `source`, line by line, as the editor classes them (for tests). */
export function tokenize(source: string): { text: string; type: string | null; line: number }[] {
  const out: { text: string; type: string | null; line: number }[] = [];
  let state = rhaiParser.startState!(2);
  source.split("\n").forEach((text, i) => {
    if (text === "") return;
    const stream = new StringStream(text, 4, 2);
    while (!stream.eol()) {
      stream.start = stream.pos;
      const type = rhaiParser.token(stream, state);
      if (stream.pos === stream.start) throw new Error(`no progress at line ${i + 1}`);
      const piece = text.slice(stream.start, stream.pos);
      if (piece.trim()) out.push({ text: piece, type, line: i + 1 });
    }
    state = rhaiParser.copyState!(state);
  });
  return out;
}
