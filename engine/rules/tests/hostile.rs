//! Hostile and broken rules: every limit is hit, nothing escapes the sandbox, and the same
//! host evaluates a good rule fine afterwards.

mod common;

use std::time::Duration;

use common::{compile, facts, host, host_with, limits, run, three};
use leadorch_rules::{EvalError, Limits, RuleHost, RuleRun};

const GOOD: &str = r#"
if team.utilisation > 0.5 { pause("busy") }
"#;

/// After a hostile rule, the same host still evaluates a good rule correctly.
fn still_works(host: &RuleHost) {
    let run = run(host, GOOD, &facts(three(), 90));
    assert_eq!(run.aborted, None);
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    assert_eq!(run.proposals.len(), 3);
}

/// [`still_works`] for a host whose wall-clock budget is short because the test is about
/// that budget: a good run stopped by it only means the machine was busy, so it is tried
/// again; a host left broken by the hostile rule fails every time.
fn still_works_within_a_short_budget(host: &RuleHost) {
    for _ in 0..20 {
        let run = run(host, GOOD, &facts(three(), 90));
        if !matches!(run.aborted, Some(EvalError::Timeout { .. })) {
            still_works(host);
            return;
        }
    }
    panic!("a good rule ran out of a short wall-clock budget 20 times in a row");
}

fn aborted(run: &RuleRun) -> &EvalError {
    assert!(run.proposals.is_empty(), "an aborted run must not propose");
    run.aborted
        .as_ref()
        .unwrap_or_else(|| panic!("run was not aborted: {run:?}"))
}

#[test]
fn endless_loop_hits_the_operations_limit() {
    let host = host();
    let run = run(&host, "let x = 0; loop { x += 1; }", &facts(three(), 10));
    assert_eq!(aborted(&run), &EvalError::TooManyOperations);
    assert!(run.operations >= Limits::default().max_operations);
    still_works(&host);
}

#[test]
fn endless_loop_hits_the_wall_clock() {
    let host = host_with(Limits {
        max_operations: u64::MAX / 2,
        wall_clock: Duration::from_millis(20),
        ..Limits::default()
    });
    let run = run(&host, "loop {}", &facts(three(), 10));
    assert_eq!(aborted(&run), &EvalError::Timeout { budget_ms: 20 });
    still_works_within_a_short_budget(&host);
}

#[test]
fn a_run_that_already_spent_its_budget_is_stopped_between_campaigns() {
    // Each evaluation is short (no clock check inside it), but the first one alone takes
    // longer than the budget, so the run stops before the second campaign.
    let host = host_with(Limits {
        wall_clock: Duration::from_nanos(1),
        ..Limits::default()
    });
    let run = run(&host, "pause(\"x\")", &facts(three(), 10));
    assert_eq!(aborted(&run), &EvalError::Timeout { budget_ms: 0 });
    assert!(run.operations < 1024, "{run:?}");
}

#[test]
fn recursion_bomb_is_too_deep() {
    let host = host();
    let run = run(&host, "fn f(n) { f(n + 1) } f(0)", &facts(three(), 10));
    assert!(
        matches!(aborted(&run), EvalError::TooDeep(m) if m.contains("32")),
        "{run:?}"
    );
    still_works(&host);
}

#[test]
fn deep_expression_nesting_is_refused_when_compiling() {
    let host = host();
    let source = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    let err = host.compile("deep", &source).expect_err("too deep");
    assert!(err.message.contains("complex"), "{err}");
    let source = format!("let x = {}1{};", "[".repeat(100), "]".repeat(100));
    assert!(host.compile("deep_array", &source).is_err());
    still_works(&host);
}

#[test]
fn string_doubling_is_too_large() {
    let host = host();
    let run = run(
        &host,
        r#"let s = "xx"; loop { s += s; }"#,
        &facts(three(), 10),
    );
    assert!(
        matches!(aborted(&run), EvalError::TooLarge(m) if m.contains("string")),
        "{run:?}"
    );
    still_works(&host);
}

#[test]
fn array_growth_is_too_large() {
    let host = host();
    let run = run(
        &host,
        "let a = []; loop { a.push(1); }",
        &facts(three(), 10),
    );
    assert!(
        matches!(aborted(&run), EvalError::TooLarge(m) if m.contains("rray")),
        "{run:?}"
    );
    let run2 = common::run(&host, "let a = [1]; loop { a += a; }", &facts(three(), 10));
    assert!(matches!(aborted(&run2), EvalError::TooLarge(_)), "{run2:?}");
    still_works(&host);
}

#[test]
fn map_growth_is_too_large() {
    let host = host();
    for source in [
        "let m = #{}; let i = 0; loop { m += #{}; m[`k${i}`] = i; i += 1; }",
        "let m = #{}; let i = 0; loop { m.mixin(#{}); m[`k${i}`] = i; i += 1; }",
        "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; m.len(); }",
    ] {
        let run = run(&host, source, &facts(three(), 10));
        assert!(
            matches!(aborted(&run), EvalError::TooLarge(m) if m.contains("map")),
            "{source}: {run:?}"
        );
    }
    still_works(&host);
}

/// Rhai 1.27 does not check the map size when `m[new_key] = v` adds a key and the map is
/// used no further; such growth is still bounded by the operations limit (the test host's
/// wall-clock budget, see [`common::limits`], cannot stop it first, however busy the
/// machine).
#[test]
fn map_growth_by_index_alone_is_bounded_by_operations() {
    let host = host();
    let run = run(
        &host,
        "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
        &facts(three(), 10),
    );
    assert!(
        matches!(
            aborted(&run),
            EvalError::TooManyOperations | EvalError::TooLarge(_)
        ),
        "{run:?}"
    );
}

#[test]
fn too_many_variables_is_too_large() {
    let host = host_with(Limits {
        max_variables: 8,
        ..limits()
    });
    let source = (0..20)
        .map(|i| format!("let v{i} = {i};"))
        .collect::<String>();
    let run = run(&host, &source, &facts(three(), 10));
    assert!(matches!(aborted(&run), EvalError::TooLarge(_)), "{run:?}");
}

#[test]
fn runtime_errors_name_line_and_column_and_only_fail_that_campaign() {
    let host = host();
    let source = r#"
let n = 1;
if campaign.id.ends_with("/2") {
    n = n + "x" * 2;
}
pause("fine")
"#;
    let run = run(&host, source, &facts(three(), 10));
    assert_eq!(run.aborted, None);
    assert_eq!(run.proposals.len(), 2, "the other campaigns go on");
    assert_eq!(run.failures.len(), 1);
    assert_eq!(run.failures[0].campaign, "111-222-3333/2");
    match &run.failures[0].error {
        EvalError::Runtime {
            line,
            column,
            message,
        } => {
            assert_eq!(*line, Some(4));
            assert!(column.is_some());
            assert!(message.contains("Function not found"), "{message}");
        }
        other => panic!("expected a runtime error, got {other:?}"),
    }
}

#[test]
fn thrown_errors_inside_rule_functions_point_into_the_function() {
    let host = host();
    let source = "fn check(x) {\n  if x > 0 {\n    throw \"bad input\";\n  }\n}\ncheck(1);";
    let run = run(&host, source, &facts(three(), 10));
    let error = &run.failures[0].error;
    assert_eq!(
        error,
        &EvalError::Runtime {
            line: Some(3),
            column: Some(5),
            message: "thrown: bad input (in function 'check')".to_string()
        }
    );
    assert_eq!(
        error.to_string(),
        "line 3, column 5: thrown: bad input (in function 'check')"
    );
}

#[test]
fn wrong_return_shapes_are_bad_returns_naming_what_came_back() {
    let host = host();
    for (source, needle) in [
        ("42", "integer 42"),
        (r#""pause""#, "string \"pause\""),
        ("true", "bool true"),
        (r#"#{action: "pause"}"#, "no `reason`"),
        (r#"#{action: "pause", reason: "  "}"#, "empty reason"),
        (r#"#{reason: "x"}"#, "without `action`"),
        (
            r#"#{action: "explode", reason: "x"}"#,
            "unknown action \"explode\"",
        ),
        (r#"pause("")"#, "empty reason"),
        (r#"[pause("a"), 7]"#, "element 1"),
        (r#"[pause("a"), resume("b")]"#, "two different decisions"),
        (r#"set_budget(-5, "x")"#, "invalid"),
        (r#"set_budget_micros(0, "x")"#, "invalid"),
        (
            r#"set_ad_schedule([#{day: "someday", start: "09:00", end: "10:00"}], "x")"#,
            "weekday",
        ),
    ] {
        let run = run(&host, source, &facts(three(), 10));
        assert_eq!(run.aborted, None, "{source}");
        assert_eq!(run.failures.len(), 3, "{source}");
        match &run.failures[0].error {
            EvalError::BadReturn(message) => {
                assert!(message.contains(needle), "{source}: {message}")
            }
            other => panic!("{source}: expected BadReturn, got {other:?}"),
        }
    }
    still_works(&host);
}

#[test]
fn imports_outside_the_library_are_refused_at_compile_time() {
    let host = host();
    for (source, module) in [
        (r#"import "../../etc/passwd" as p;"#, "../../etc/passwd"),
        (r#"import "nonexistent" as n;"#, "nonexistent"),
        (r#"import "/etc/hosts" as h;"#, "/etc/hosts"),
    ] {
        let err = host.compile("imp", source).expect_err("refused");
        assert!(err.message.contains(module), "{err}");
        assert!(
            err.message
                .contains("available: calendar, hysteresis, pacing"),
            "{err}"
        );
        assert_eq!(err.line, Some(1));
    }
}

#[test]
fn dynamic_imports_cannot_reach_files_either() {
    let host = host();
    let source = r#"let p = "../../etc/" + "passwd"; import p as x; pause("no")"#;
    let run = run(&host, source, &facts(three(), 10));
    assert!(run.proposals.is_empty());
    assert_eq!(run.failures.len(), 3);
    assert!(
        matches!(&run.failures[0].error, EvalError::Runtime { message, .. } if message.contains("passwd")),
        "{run:?}"
    );
}

#[test]
fn eval_is_refused() {
    let host = host();
    assert!(host.compile("ev", r#"eval("pause(\"x\")")"#).is_err());
    assert!(host
        .compile("ev2", r#"let f = "eval"; call(f, "1")"#)
        .is_ok_and(|rule| {
            let r = host.evaluate(&rule, &host.prepare(&facts(three(), 10)));
            r.proposals.is_empty() && r.failures.len() == 3
        }));
}

#[test]
fn no_clock_and_no_sleep() {
    let host = host();
    for source in ["timestamp()", "sleep(10)", "sleep(0.5)", "exit(1)"] {
        let err = host
            .compile("clock", source)
            .map(|rule| host.evaluate(&rule, &host.prepare(&facts(three(), 10))));
        match err {
            Err(e) => panic!("{source}: unexpected compile error {e}"),
            Ok(run) => {
                assert_eq!(run.failures.len(), 3, "{source}: {run:?}");
                assert!(
                    matches!(&run.failures[0].error, EvalError::Runtime { message, .. } if message.contains("Function not found")),
                    "{source}: {run:?}"
                );
            }
        }
    }
}

#[test]
fn print_and_debug_are_captured_and_bounded() {
    let host = host();
    let source = r#"
print(`hello from ${campaign.id}`);
debug("dbg");
if campaign.id.ends_with("/1") {
    for i in 0..100 { print(i); }
    print("x".pad(2000, "y"));
}
"#;
    let run = run(&host, source, &facts(three(), 10));
    assert_eq!(run.logs.len(), leadorch_rules::host::MAX_LOG_LINES + 1);
    assert_eq!(run.logs[0].line, "hello from 111-222-3333/1");
    assert_eq!(run.logs[0].campaign, "111-222-3333/1");
    assert!(run.logs[1].line.contains("\"dbg\""), "{:?}", run.logs[1]);
    let last = run.logs.last().map(|l| l.line.as_str());
    assert_eq!(last, Some("… truncated (more output dropped)"));

    let long = common::run(
        &host,
        r#"let z = "z"; z.pad(2000, "z"); print(z);"#,
        &facts(three(), 10),
    );
    assert_eq!(
        long.logs[0].line.chars().count(),
        leadorch_rules::host::MAX_LOG_LINE_CHARS
    );
    assert!(long.logs[0].line.ends_with('…'));
}

#[test]
fn facts_are_read_only() {
    let host = host();
    for source in [
        r#"campaign.name = "x";"#,
        r#"campaign.labels.push("x");"#,
        r#"campaign.today.clicks = 5;"#,
        r#"team.utilisation = 0.0;"#,
        r#"teams["sales-nl"].open_leads = 0;"#,
        r#"now.hour = 3;"#,
        r#"campaign = 5;"#,
    ] {
        let run = run(&host, source, &facts(three(), 10));
        assert_eq!(run.failures.len(), 3, "{source}: {run:?}");
    }
}

#[test]
fn a_rule_cannot_change_what_the_next_rule_sees() {
    let host = host();
    let facts = facts(three(), 10);
    let prepared = host.prepare(&facts);
    let tamper = [
        r#"let c = campaign; c.name = "hacked"; c.labels.push("hacked"); ()"#,
        r#"fn f(c) { c.name = "hacked"; c.labels.push("hacked"); } f(campaign); ()"#,
        r#"let g = || { campaign.name = "hacked"; now.hour = 99; teams.x = 1; }; g.call(); campaign.name = "hacked"; now.hour = 99; ()"#,
        r#"let g = || team; team.utilisation = 42.0; ()"#,
        // Reads of `teams` beside a change of it: handed over as a constant, not by reference.
        r#"if "x" in teams || teams["sales-nl"] == () { 0 } teams.x = 1; ()"#,
        r#"if !("x" in teams) { teams.mixin(#{x: 1}); } ()"#,
        r#"let f = |k| k in teams; if f.call("x") { 0 } teams.x = 2; ()"#,
    ];
    let check = compile(
        &host,
        r#"if campaign.name == "hacked" || "hacked" in campaign.labels || now.hour == 99
              || "x" in teams || team.utilisation == 42.0 { pause("tampered") }"#,
    );
    let mut rules: Vec<_> = tamper.iter().map(|s| compile(&host, s)).collect();
    rules.push(check.clone());
    for threads in [1, 2] {
        for run in host.evaluate_all(&rules, &prepared, threads) {
            assert!(run.proposals.is_empty(), "{run:?}");
        }
    }
    for rule in &rules {
        let run = host.evaluate(rule, &prepared);
        assert!(run.proposals.is_empty(), "{run:?}");
        // Each tampering rule right before the check, alone: no other rule's run (a closure
        // makes the host renew the facts) stands between them.
        for threads in [1, 2] {
            for run in host.evaluate_all(&[rule.clone(), check.clone()], &prepared, threads) {
                assert!(run.proposals.is_empty(), "{run:?}");
            }
        }
    }
    assert!(host.evaluate(&check, &prepared).proposals.is_empty());
}

#[test]
fn bad_facts_abort_every_run() {
    let host = host();
    let mut f = facts(three(), 10);
    f.timezone = "Europe/Atlantis".to_string();
    let run = run(&host, GOOD, &f);
    assert!(matches!(aborted(&run), EvalError::BadFacts(m) if m.contains("Atlantis")));
    assert_eq!(run.evaluated, 3);
}

#[test]
fn limits_that_would_be_unsafe_are_refused() {
    let lib = common::rules_dir().join("lib");
    for limits in [
        Limits {
            max_operations: 0,
            ..Limits::default()
        },
        Limits {
            max_call_levels: 1000,
            ..Limits::default()
        },
        Limits {
            max_expr_depth: 0,
            ..Limits::default()
        },
        Limits {
            max_string_size: 0,
            ..Limits::default()
        },
    ] {
        assert!(RuleHost::new(Some(&lib), limits).is_err());
    }
}
