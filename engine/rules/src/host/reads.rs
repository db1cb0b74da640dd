//! Which facts a rule can read, found in its compiled script ([`Reads`]), and the values it
//! reads hashed ([`ValueHasher`]): together the key under which a rule's result for one
//! campaign can be reused (see `reuse`).
//!
//! A rule sees the facts only through four names: `campaign`, `team`, `teams` and `now`
//! (constants in its scope; functions cannot see the caller's scope, library modules have
//! none of it, and the natives are pure). So whatever a run computes is a function of the
//! values it reads through those names, the rule's code and the library. The analysis
//! walks every expression of the script, its own functions included, and records for each
//! name how it is used:
//! - `campaign.paused`, `campaign["paused"]`, `campaign.labels.len()`, `team.stale`: the
//!   first-level field (`paused`, `labels`, `stale`), whatever follows it;
//! - `team == ()` / `team != ()`: only whether it is `()`, which every key includes;
//! - any other use (`let c = campaign;`, `campaign.keys()`, `teams[name]`, `name in
//!   teams`, a capture by a closure, `global::now`, a call with the whole value): the
//!   whole value.
//!
//! This over-approximates what a run reads (a field read on one branch counts on all), so a
//! key never leaves out a value the run depended on. Reading through `now`, or a field
//! computed from the clock (`team.age_minutes`), is no exception: those values are hashed
//! like any other, and differ from one minute to the next when they do.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use rhai::{ASTNode, Array, Dynamic, Expr, ImmutableString, Map, AST};

/// How a rule uses one of the fact names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Read {
    /// Not at all.
    #[default]
    None,
    /// Only these first-level fields (and whether the value is `()` or a map).
    Fields(BTreeSet<String>),
    /// The whole value.
    Whole,
}

impl Read {
    fn field(&mut self, name: &str) {
        match self {
            Read::None => *self = Read::Fields(BTreeSet::from([name.to_string()])),
            Read::Fields(fields) => {
                fields.insert(name.to_string());
            }
            Read::Whole => {}
        }
    }

    fn kind_only(&mut self) {
        if *self == Read::None {
            *self = Read::Fields(BTreeSet::new());
        }
    }

    /// Whether the rule uses the name at all.
    pub fn is_read(&self) -> bool {
        *self != Read::None
    }
}

/// What a compiled rule can read of the facts, per name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// `campaign`.
    pub campaign: Read,
    /// `team`.
    pub team: Read,
    /// `teams`.
    pub teams: Read,
    /// `now`.
    pub now: Read,
}

impl Reads {
    /// Everything, wholly: what a rule whose reads cannot be known is keyed on.
    pub fn everything() -> Reads {
        Reads {
            campaign: Read::Whole,
            team: Read::Whole,
            teams: Read::Whole,
            now: Read::Whole,
        }
    }

    fn slot(&mut self, name: &str) -> Option<&mut Read> {
        Some(match name {
            "campaign" => &mut self.campaign,
            "team" => &mut self.team,
            "teams" => &mut self.teams,
            "now" => &mut self.now,
            _ => return None,
        })
    }

    /// The reads as `name` / `name.field` / `name (whether set)`, for people: what `rules
    /// show` and the documentation print.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, read) in [
            ("campaign", &self.campaign),
            ("team", &self.team),
            ("teams", &self.teams),
            ("now", &self.now),
        ] {
            match read {
                Read::None => {}
                Read::Whole => out.push(name.to_string()),
                Read::Fields(fields) if fields.is_empty() => out.push(format!("{name} (set?)")),
                Read::Fields(fields) => out.extend(fields.iter().map(|f| format!("{name}.{f}"))),
            }
        }
        out
    }

    /// The reads of a compiled script: every expression walked, its functions included.
    pub(crate) fn of(ast: &AST) -> Reads {
        let mut reads = Reads::default();
        ast.walk(&mut |path: &[ASTNode]| {
            let Some(ASTNode::Expr(expr @ Expr::Variable(var, ..))) = path.last() else {
                return true;
            };
            let (name, namespace) = (var.1.as_str(), &var.2);
            let Some(read) = reads.slot(name) else {
                return true;
            };
            if !namespace.is_empty() {
                // `global::now` and the like: read wholly.
                *read = Read::Whole;
                return true;
            }
            let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
            match parent {
                Some(ASTNode::Expr(Expr::Dot(chain, ..))) if std::ptr::eq(&chain.lhs, *expr) => {
                    match first_property(&chain.rhs) {
                        Some(field) => read.field(field),
                        None => *read = Read::Whole,
                    }
                }
                Some(ASTNode::Expr(Expr::Index(chain, ..))) if std::ptr::eq(&chain.lhs, *expr) => {
                    match first_index(&chain.rhs) {
                        Some(field) => read.field(field),
                        None => *read = Read::Whole,
                    }
                }
                Some(ASTNode::Expr(Expr::FnCall(call, ..)))
                    if is_unit_comparison(&call.name, &call.args) =>
                {
                    read.kind_only();
                }
                _ => *read = Read::Whole,
            }
            true
        });
        reads
    }
}

/// Whether every use of the fact `name` in a compiled script only looks into it without any
/// way to change it, so the host may hand it to the script by reference instead of as a
/// constant. A constant passed to a function is copied whole first (Rhai protects constants
/// that way): `x in teams` copied every team's reading for every campaign. Allowed:
/// - `name.field…` / `name[index]…` chains with no function or method call in them, outside
///   the left of an assignment (reading a missing key of a map adds nothing);
/// - `x in name` (Rhai's `contains(name, x)`: the built-in one is pure, and a script's own
///   `contains` receives a copy).
///
/// Anything else — a method call (`name.clear()`), a `for` over it, an assignment into it,
/// a closure capturing it, passing it to a function, `global::name` — makes it `false`.
pub(crate) fn only_looked_into(ast: &AST, name: &str) -> bool {
    let mut safe = true;
    ast.walk(&mut |path: &[ASTNode]| {
        let Some(ASTNode::Expr(expr @ Expr::Variable(var, ..))) = path.last() else {
            return true;
        };
        if var.1.as_str() != name {
            return true;
        }
        let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
        let looked_into = var.2.is_empty()
            && match parent {
                Some(ASTNode::Expr(Expr::Dot(chain, ..) | Expr::Index(chain, ..)))
                    if std::ptr::eq(&chain.lhs, *expr) =>
                {
                    !calls_anything(&chain.rhs) && !assigned_to(path)
                }
                Some(ASTNode::Expr(Expr::FnCall(call, ..))) => {
                    call.name.as_str() == "contains"
                        && call.args.len() == 2
                        && std::ptr::eq(&call.args[0], *expr)
                        && !call.is_qualified()
                }
                _ => false,
            };
        safe &= looked_into;
        safe
    });
    safe
}

/// Whether an expression calls a function or method anywhere in it.
fn calls_anything(expr: &Expr) -> bool {
    let mut calls = false;
    expr.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
        if matches!(
            path.last(),
            Some(ASTNode::Expr(
                Expr::FnCall(..) | Expr::MethodCall(..) | Expr::Stmt(..)
            ))
        ) {
            calls = true;
        }
        !calls
    });
    calls
}

/// Whether the last node of `path` lies in the left-hand side of an assignment.
fn assigned_to(path: &[ASTNode]) -> bool {
    path.windows(2).any(|w| match w {
        [ASTNode::Stmt(rhai::Stmt::Assignment(x)), ASTNode::Expr(lhs)] => {
            std::ptr::eq(&x.1.lhs, *lhs)
        }
        _ => false,
    })
}

/// The leftmost property of a `.` chain's right-hand side: `paused` in `campaign.paused`,
/// `labels` in `campaign.labels.len()` or `campaign.labels[0]`. `None` for a method called
/// on the value itself (`campaign.keys()`).
fn first_property(rhs: &Expr) -> Option<&str> {
    match rhs {
        Expr::Property(p, ..) => Some(p.2.as_str()),
        Expr::Dot(chain, ..) | Expr::Index(chain, ..) => first_property(&chain.lhs),
        _ => None,
    }
}

/// The key of an index chain's first index when it is a string literal: `open` in
/// `now["open"]` or `now["open"][x]`. `None` for a computed index (`teams[name]`).
fn first_index(rhs: &Expr) -> Option<&str> {
    match rhs {
        Expr::StringConstant(s, ..) => Some(s.as_str()),
        Expr::Dot(chain, ..) | Expr::Index(chain, ..) => match &chain.lhs {
            Expr::StringConstant(s, ..) => Some(s.as_str()),
            _ => None,
        },
        _ => None,
    }
}

/// `x == ()` or `x != ()` (either side).
fn is_unit_comparison(name: &str, args: &[Expr]) -> bool {
    (name == "==" || name == "!=")
        && args.len() == 2
        && args.iter().any(|a| matches!(a, Expr::Unit(..)))
}

/// Hashes Rhai values as rules see them. Deterministic within a process (SipHash with fixed
/// keys); maps in key order. Values of other types (none of the facts has one) cannot be
/// hashed: the caller then evaluates instead of reusing.
pub(crate) struct ValueHasher(DefaultHasher);

impl ValueHasher {
    pub(crate) fn new() -> ValueHasher {
        ValueHasher(DefaultHasher::new())
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.0.write_u64(v);
    }

    pub(crate) fn str(&mut self, s: &str) {
        s.hash(&mut self.0);
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0.finish()
    }

    /// Adds `value`; `false` if it holds a value of a type that cannot be hashed.
    pub(crate) fn value(&mut self, value: &Dynamic) -> bool {
        let h = &mut self.0;
        if value.is_unit() {
            h.write_u8(0);
        } else if let Ok(b) = value.as_bool() {
            h.write_u8(1);
            h.write_u8(u8::from(b));
        } else if let Ok(i) = value.as_int() {
            h.write_u8(2);
            h.write_i64(i);
        } else if let Ok(f) = value.as_float() {
            h.write_u8(3);
            h.write_u64(f.to_bits());
        } else if let Ok(c) = value.as_char() {
            h.write_u8(4);
            h.write_u32(u32::from(c));
        } else if value.is_string() {
            let Some(s) = value.read_lock::<ImmutableString>() else {
                return false;
            };
            h.write_u8(5);
            s.as_str().hash(h);
        } else if value.is_array() {
            let Some(array) = value.read_lock::<Array>() else {
                return false;
            };
            self.0.write_u8(6);
            self.0.write_usize(array.len());
            for item in array.iter() {
                if !self.value(item) {
                    return false;
                }
            }
        } else if value.is_map() {
            let Some(map) = value.read_lock::<Map>() else {
                return false;
            };
            self.0.write_u8(7);
            self.0.write_usize(map.len());
            for (key, item) in map.iter() {
                key.as_str().hash(&mut self.0);
                if !self.value(item) {
                    return false;
                }
            }
        } else {
            return false;
        }
        true
    }

    /// Adds what `read` reads of `value`: nothing, its kind and the named fields, or all of
    /// it. `false` if a value read cannot be hashed.
    pub(crate) fn read(&mut self, read: &Read, value: &Dynamic) -> bool {
        match read {
            Read::None => true,
            Read::Whole => self.value(value),
            Read::Fields(fields) => self.kind(value) && fields.iter().all(|f| self.field(value, f)),
        }
    }

    /// Adds whether `value` is a map; for anything else (`()`, no team), the value itself:
    /// reading a field of it fails the same way whatever it holds.
    pub(crate) fn kind(&mut self, value: &Dynamic) -> bool {
        if value.is_map() {
            self.0.write_u8(7);
            true
        } else {
            self.0.write_u8(8);
            self.value(value)
        }
    }

    /// Adds the field `name` of `value` when it is a map (present or not); nothing otherwise
    /// ([`ValueHasher::kind`] covers that case).
    pub(crate) fn field(&mut self, value: &Dynamic, name: &str) -> bool {
        let Some(map) = value.read_lock::<Map>() else {
            return true;
        };
        match map.get(name) {
            Some(v) => {
                self.0.write_u8(1);
                self.value(v)
            }
            None => {
                self.0.write_u8(0);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names rules read facts through.
    const FACT_NAMES: [&str; 4] = ["campaign", "team", "teams", "now"];

    fn reads(source: &str) -> Reads {
        Reads::of(&compiled(source))
    }

    fn fields(names: &[&str]) -> Read {
        Read::Fields(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn field_reads_are_told_apart_from_whole_reads() {
        let r = reads(
            "if team == () || campaign.status == \"removed\" { return; }\n\
             let u = team.utilisation;\n\
             if u > 0.9 && !campaign[\"paused\"] { pause(`${team.name} ${campaign.labels.len()}`) }\n\
             for l in campaign.labels { if l == \"x\" { return; } }",
        );
        assert_eq!(r.campaign, fields(&["labels", "paused", "status"]));
        assert_eq!(r.team, fields(&["name", "utilisation"]));
        assert_eq!(r.teams, Read::None);
        assert_eq!(r.now, Read::None);
        assert_eq!(
            r.describe(),
            vec![
                "campaign.labels",
                "campaign.paused",
                "campaign.status",
                "team.name",
                "team.utilisation"
            ]
        );
    }

    #[test]
    fn unit_checks_read_only_the_kind() {
        let r = reads("if team != () { return; }");
        assert_eq!(r.team, fields(&[]));
        assert_eq!(r.describe(), vec!["team (set?)"]);
    }

    #[test]
    fn any_other_use_reads_the_whole_value() {
        for (source, whole) in [
            ("let c = campaign; c.paused", "campaign"),
            ("campaign.keys().len()", "campaign"),
            ("let name = \"a\"; teams[name]", "teams"),
            ("\"a\" in teams", "teams"),
            ("print(now)", "now"),
            ("let f = || team.stale; f.call()", "team"),
            ("fn g(x) { x } g(team)", "team"),
            ("`${campaign}`", "campaign"),
            ("now.open[campaign.team]; teams[campaign.team]", "teams"),
            ("if team == campaign { 1 }", "team"),
        ] {
            let r = reads(source);
            let read = match whole {
                "campaign" => &r.campaign,
                "team" => &r.team,
                "teams" => &r.teams,
                _ => &r.now,
            };
            assert_eq!(*read, Read::Whole, "{source}: {r:?}");
        }
        let r = reads("now.open[campaign.team]");
        assert_eq!(r.now, fields(&["open"]));
        assert_eq!(r.campaign, fields(&["team"]));
        let r = reads("teams[\"sales\"].stale");
        assert_eq!(r.teams, fields(&["sales"]));
    }

    fn compiled(source: &str) -> AST {
        let mut engine = rhai::Engine::new_raw();
        crate::host::register_packages(&mut engine);
        engine.register_fn("pause", |_: ImmutableString| ());
        let mut scope = rhai::Scope::new();
        for name in FACT_NAMES {
            scope.push_dynamic(name, Dynamic::UNIT);
        }
        engine.compile_with_scope(&scope, source).expect("compiles")
    }

    #[test]
    fn teams_is_only_looked_into_by_reads_and_in() {
        let routing = include_str!("../../../../rules/team_routing.rhai");
        assert!(only_looked_into(&compiled(routing), "teams"));
        for source in [
            "1",
            "let name = \"a\"; if name in teams { teams[name].stale }",
            "teams.sales.open_leads > teams[\"b\"][\"max\"]",
            "let t = teams[campaign.team]; t.x = 1; t",
            "if !(\"a\" in teams) { 0 }",
        ] {
            assert!(only_looked_into(&compiled(source), "teams"), "{source}");
        }
        for source in [
            "teams.clear()",
            "teams.keys()",
            "teams[\"a\"].labels.push(1)",
            "teams[\"a\"] = 1",
            "teams.a.open = 1",
            "teams[\"a\"].open += 1",
            "for t in teams { t }",
            "let f = || teams.a; f.call()",
            "fn g(x) { x } g(teams)",
            "let t = teams; t",
            "contains(teams, \"a\") && remove(teams, \"a\") == ()",
            "teams == ()",
            "teams[\"a\".to_upper()]",
            "fn f() { this.clear() } teams.f()",
        ] {
            assert!(!only_looked_into(&compiled(source), "teams"), "{source}");
        }
    }

    #[test]
    fn functions_of_the_rule_are_walked_too() {
        // A function cannot see the caller's scope, but a parameter of the same name is
        // counted as a read all the same: the analysis only ever reads more.
        let r = reads("fn f(campaign) { campaign.budget } f(1)");
        assert_eq!(r.campaign, fields(&["budget"]));
    }

    #[test]
    fn hashes_differ_with_what_is_read_and_only_with_that() {
        let map = |paused: bool, budget: f64| {
            let mut m = Map::new();
            m.insert("paused".into(), paused.into());
            m.insert("budget".into(), budget.into());
            Dynamic::from_map(m)
        };
        let key = |read: &Read, v: &Dynamic| {
            let mut h = ValueHasher::new();
            assert!(h.read(read, v));
            h.finish()
        };
        let paused = fields(&["paused"]);
        assert_eq!(key(&paused, &map(true, 1.0)), key(&paused, &map(true, 2.0)));
        assert_ne!(
            key(&paused, &map(true, 1.0)),
            key(&paused, &map(false, 1.0))
        );
        assert_ne!(
            key(&Read::Whole, &map(true, 1.0)),
            key(&Read::Whole, &map(true, 2.0))
        );
        assert_ne!(key(&paused, &Dynamic::UNIT), key(&paused, &map(true, 1.0)));
        let missing = fields(&["missing"]);
        assert_eq!(
            key(&missing, &map(true, 1.0)),
            key(&missing, &map(false, 2.0))
        );
    }
}
