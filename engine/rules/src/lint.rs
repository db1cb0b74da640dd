//! Fact names a rule reads that rules do not see (`campaign.does_not_exist`, a typo), found
//! in the rule's source for `rules check` to warn about. At run time such a read is an error
//! (the rule's failure for that campaign); this finds the ones that can be seen before.
//!
//! The known names are those of the maps [`crate::view`] builds. Only what can be seen in
//! the text is checked: `campaign.x`, `campaign.today.x` (also `recent`, `bidding`),
//! `team.x`, `teams[…].x` and `now.x`, outside comments and strings (inside `${…}` of a
//! backtick string too); method calls (`campaign.keys()`) are not property reads.

use std::fmt;

use crate::view::fact_names;

/// A read of a fact that rules do not see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFact {
    /// 1-based line of the unknown name.
    pub line: usize,
    /// 1-based column (in characters) of the unknown name.
    pub column: usize,
    /// What the rule reads, as written: `campaign.does_not_exist`, `teams[…].free`.
    pub path: String,
    /// The names that exist at that place, sorted.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownFact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a fact rules see (known: {})",
            self.path,
            self.known.join(", ")
        )
    }
}

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
}

struct Token {
    tok: Tok,
    line: usize,
    column: usize,
}

struct Lexer {
    chars: Vec<char>,
    /// (line, column) of every character.
    at: Vec<(usize, usize)>,
    i: usize,
    tokens: Vec<Token>,
}

impl Lexer {
    fn new(source: &str) -> Lexer {
        let chars: Vec<char> = source.chars().collect();
        let mut at = Vec::with_capacity(chars.len());
        let (mut line, mut column) = (1, 1);
        for c in &chars {
            at.push((line, column));
            if *c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Lexer {
            chars,
            at,
            i: 0,
            tokens: Vec::new(),
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn push(&mut self, tok: Tok, start: usize) {
        let (line, column) = self.at[start];
        self.tokens.push(Token { tok, line, column });
    }

    /// Code, up to the end or (inside `${…}`) the `}` that closes it.
    fn code(&mut self, in_interpolation: bool) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            let start = self.i;
            match c {
                '/' if self.peek(1) == Some('/') => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                '/' if self.peek(1) == Some('*') => self.block_comment(),
                '"' | '\'' => self.quoted(c),
                '`' => self.backtick(),
                '#' if matches!(self.peek(1), Some('"' | '#')) => self.raw_string(),
                c if c.is_ascii_digit() => {
                    while self
                        .peek(0)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                        || (self.peek(0) == Some('.')
                            && self.peek(1).is_some_and(|c| c.is_ascii_digit()))
                    {
                        self.i += 1;
                    }
                }
                c if c.is_alphabetic() || c == '_' => {
                    let mut name = String::new();
                    while let Some(c) = self.peek(0).filter(|c| c.is_alphanumeric() || *c == '_') {
                        name.push(c);
                        self.i += 1;
                    }
                    self.push(Tok::Ident(name), start);
                }
                '?' if matches!(self.peek(1), Some('.' | '[')) => {
                    // `a?.b` and `a?[i]` read like `a.b` and `a[i]`.
                    self.i += 1;
                }
                c if c.is_whitespace() => self.i += 1,
                c => {
                    if c == '{' {
                        depth += 1;
                    } else if c == '}' {
                        if depth == 0 && in_interpolation {
                            self.i += 1;
                            return;
                        }
                        depth = depth.saturating_sub(1);
                    }
                    self.push(Tok::Punct(c), start);
                    self.i += 1;
                }
            }
        }
    }

    /// `/* … */`, nested.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            if c == '/' && self.peek(1) == Some('*') {
                depth += 1;
                self.i += 2;
            } else if c == '*' && self.peek(1) == Some('/') {
                self.i += 2;
                depth -= 1;
                if depth == 0 {
                    return;
                }
            } else {
                self.i += 1;
            }
        }
    }

    /// `"…"` or `'…'` with backslash escapes.
    fn quoted(&mut self, quote: char) {
        self.i += 1;
        while let Some(c) = self.peek(0) {
            self.i += 1;
            if c == '\\' {
                self.i += 1;
            } else if c == quote {
                return;
            }
        }
    }

    /// `` `…${code}…` ``: the text is skipped, the code inside `${…}` is read.
    fn backtick(&mut self) {
        self.i += 1;
        while let Some(c) = self.peek(0) {
            if c == '`' {
                self.i += 1;
                return;
            }
            if c == '$' && self.peek(1) == Some('{') {
                self.i += 2;
                self.code(true);
            } else {
                self.i += 1;
            }
        }
    }

    /// `#"…"#`, `##"…"##`, …
    fn raw_string(&mut self) {
        let mut hashes = 0;
        while self.peek(0) == Some('#') {
            hashes += 1;
            self.i += 1;
        }
        if self.peek(0) != Some('"') {
            return;
        }
        self.i += 1;
        while let Some(c) = self.peek(0) {
            self.i += 1;
            if c == '"' && (0..hashes).all(|k| self.peek(k) == Some('#')) {
                self.i += hashes;
                return;
            }
        }
    }
}

/// The reads of unknown facts in `source`, in source order.
pub fn unknown_facts(source: &str) -> Vec<UnknownFact> {
    let names = fact_names();
    let mut lexer = Lexer::new(source);
    lexer.code(false);
    let tokens = lexer.tokens;
    let ident = |i: usize| match tokens.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(name)) => Some(name.as_str()),
        _ => None,
    };
    let punct = |i: usize, c: char| tokens.get(i).map(|t| &t.tok) == Some(&Tok::Punct(c));
    // A property read (not a method call) of `.name` at `i`: the name's index.
    let property =
        |i: usize| (punct(i, '.') && ident(i + 1).is_some() && !punct(i + 2, '(')).then_some(i + 1);
    let mut found = Vec::new();
    let mut check = |at: usize, path: String, known: &[String]| {
        let name = ident(at).unwrap_or_default();
        if known.iter().any(|k| k == name) {
            return true;
        }
        found.push(UnknownFact {
            line: tokens[at].line,
            column: tokens[at].column,
            path: format!("{path}.{name}"),
            known: known.to_vec(),
        });
        false
    };
    for i in 0..tokens.len() {
        let Some(root) = ident(i) else { continue };
        if i > 0 && (punct(i - 1, '.') || punct(i - 1, ':')) {
            continue;
        }
        match root {
            "campaign" | "team" | "now" => {
                let Some(at) = property(i + 1) else { continue };
                let Some(known) = names.get(root) else {
                    continue;
                };
                if !check(at, root.to_string(), known) {
                    continue;
                }
                let first = ident(at).unwrap_or_default();
                let nested = format!("{root}.{first}");
                if let (Some(known), Some(at)) = (names.get(nested.as_str()), property(at + 1)) {
                    check(at, nested, known);
                }
            }
            "teams" if punct(i + 1, '[') => {
                let mut depth = 0usize;
                let mut j = i + 1;
                while j < tokens.len() {
                    if punct(j, '[') {
                        depth += 1;
                    } else if punct(j, ']') {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                if let (Some(at), Some(known)) = (property(j + 1), names.get("team")) {
                    check(at, "teams[…]".to_string(), known);
                }
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(source: &str) -> Vec<String> {
        unknown_facts(source).into_iter().map(|u| u.path).collect()
    }

    #[test]
    fn finds_unknown_reads_outside_comments_and_strings() {
        assert_eq!(
            paths(
                "/* campaign.a /* nested */ campaign.b */ // campaign.c\n\
                 let s = \"campaign.d \\\" campaign.e\"; let r = #\"campaign.f\"#;\n\
                 let t = `campaign.g ${campaign.h + `${now.i}`} ${ #{a: 1}.a }`;\n\
                 campaign.keys(); campaign.today.cost; campaign.recent.j; x.campaign.k;\n\
                 campaign?.l; teams[names[0]].m; teams[\"a\"].free_slots; now.open.x;"
            ),
            vec![
                "campaign.h",
                "now.i",
                "campaign.recent.j",
                "campaign.l",
                "teams[…].m"
            ]
        );
    }

    #[test]
    fn known_names_come_from_the_view() {
        let names = fact_names();
        assert!(names["campaign"].contains(&"leads_today".to_string()));
        assert!(names["now"].contains(&"minute_of_day".to_string()));
        assert!(names["team"].contains(&"free_slots".to_string()));
        assert_eq!(
            names["campaign.today"],
            [
                "clicks",
                "conversions",
                "cost",
                "cost_micros",
                "impressions"
            ]
        );
    }
}
