//! The replay script format and timeline lines, through the library (the binary's own
//! tests, at the workspace root, run the shipped examples end to end).

use watchlight_camera::replay::{Entry, Script, ScriptError};

fn parse_err(text: &str) -> ScriptError {
    Script::parse(text).unwrap_err()
}

fn json_lines(text: &str) -> Vec<String> {
    Script::parse(text)
        .unwrap()
        .run()
        .iter()
        .map(Entry::to_json)
        .collect()
}

#[test]
fn lines_follow_the_issue_format_exactly() {
    let lines = json_lines(
        r#"{"v":1,"profile":"outdoor","settings":{"status_light_always_on":true},
            "steps":[{"t_ms":0,"input":"power_on"},{"t_ms":3000,"input":"provision","wifi":"ok"},
                     {"t_ms":4000,"input":"hub_connected"},{"t_ms":20000,"input":"cmd","name":"identify"}],
            "until_ms":22000}"#,
    );
    assert_eq!(
        lines,
        vec![
            r#"{"type":"state","t_ms":0,"state":"booting"}"#,
            r#"{"type":"event","t_ms":0,"event":"boot"}"#,
            r#"{"type":"light","t_ms":0,"condition":"booting","color":"red","pattern":"blink"}"#,
            r#"{"type":"state","t_ms":2000,"state":"setup"}"#,
            r#"{"type":"light","t_ms":2000,"condition":"setup","color":"red","pattern":"slow_blink"}"#,
            r#"{"type":"event","t_ms":3000,"event":"provisioned"}"#,
            r#"{"type":"state","t_ms":3000,"state":"joining"}"#,
            r#"{"type":"light","t_ms":3000,"condition":"joining","color":"green","pattern":"blink"}"#,
            r#"{"type":"state","t_ms":4000,"state":"online"}"#,
            r#"{"type":"event","t_ms":4000,"event":"connected"}"#,
            r#"{"type":"light","t_ms":4000,"condition":"connected","color":"blue","pattern":"solid"}"#,
            r#"{"type":"light","t_ms":9000,"condition":"idle","color":"blue","pattern":"solid","dim":true}"#,
            r#"{"type":"light","t_ms":20000,"condition":"identify","color":"green","pattern":"flash","count":5}"#,
            r#"{"type":"light","t_ms":21500,"condition":"idle","color":"blue","pattern":"solid","dim":true}"#,
        ]
    );
}

#[test]
fn off_is_color_none_and_events_carry_their_data() {
    let lines = json_lines(
        r#"{"v":1,"profile":"xt","armed":true,
            "steps":[{"t_ms":0,"input":"power_on"},{"t_ms":3000,"input":"provision"},
                     {"t_ms":4000,"input":"hub_connected"},{"t_ms":20000,"input":"pir"}],
            "until_ms":26000}"#,
    );
    assert!(
        lines.contains(
            &r#"{"type":"light","t_ms":9000,"condition":"idle","color":"none","pattern":"off"}"#
                .to_string()
        )
    );
    assert!(lines.contains(
        &r#"{"type":"event","t_ms":20000,"event":"motion_start","trigger":"pir"}"#.to_string()
    ));
    assert!(lines.contains(
        &r#"{"type":"event","t_ms":25000,"event":"motion_end","duration_ms":5000,"reason":"post_roll","trigger":"pir"}"#
            .to_string()
    ));
}

#[test]
fn every_shipped_example_parses_and_runs() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/replay");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let script = Script::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!script.run().is_empty(), "{}", path.display());
        count += 1;
    }
    assert!(count >= 8, "only {count} examples");
}

#[test]
fn errors_name_the_step_and_the_field() {
    let cases: [(&str, Option<usize>, &str); 14] = [
        (
            r#"{"v":1,"profile":"outdoor","steps":[{"t_ms":0,"input":"jump"}]}"#,
            Some(0),
            "input",
        ),
        (
            r#"{"v":1,"profile":"outdoor","steps":[{"t_ms":0,"input":"power_on"},{"input":"pir"}]}"#,
            Some(1),
            "t_ms",
        ),
        (
            r#"{"v":1,"profile":"mini","steps":[{"t_ms":0,"input":"pir"}]}"#,
            Some(0),
            "input",
        ),
        (
            r#"{"v":1,"profile":"mini","steps":[{"t_ms":0,"input":"battery","resting_mv":3000,"loaded_mv":2900}]}"#,
            Some(0),
            "input",
        ),
        (
            r#"{"v":1,"profile":"xt","steps":[{"t_ms":0,"input":"battery","resting_mv":3000}]}"#,
            Some(0),
            "loaded_mv",
        ),
        (
            r#"{"v":1,"profile":"xt","steps":[{"t_ms":0,"input":"provision","wifi":"maybe"}]}"#,
            Some(0),
            "wifi",
        ),
        (
            r#"{"v":1,"profile":"xt","steps":[{"t_ms":0,"input":"cmd","name":"dance"}]}"#,
            Some(0),
            "name",
        ),
        (
            r#"{"v":1,"profile":"xt","steps":[{"t_ms":0,"input":"settings","settings":{"sensitivty":3}}]}"#,
            Some(0),
            "settings",
        ),
        (
            r#"{"v":1,"profile":"xt","steps":[{"t_ms":0,"input":"settings","settings":{"sensitivity":11}}]}"#,
            Some(0),
            "settings",
        ),
        (
            r#"{"v":1,"profile":"xt","steps":[{"t_ms":5,"input":"power_on"},{"t_ms":4,"input":"pir"}]}"#,
            Some(1),
            "t_ms",
        ),
        (
            r#"{"v":1,"profile":"xt","steps":[{"t_ms":0,"input":"pir","extra":1}]}"#,
            Some(0),
            "extra",
        ),
        (r#"{"v":1,"profile":"xt3","steps":[]}"#, None, "profile"),
        (r#"{"v":2,"profile":"xt","steps":[]}"#, None, "v"),
        (
            r#"{"v":1,"profile":"xt","steps":[{"t_ms":10,"input":"pir"}],"until_ms":5}"#,
            None,
            "until_ms",
        ),
    ];
    for (text, step, field) in cases {
        let err = parse_err(text);
        assert_eq!(
            (err.step, err.field.as_str()),
            (step, field),
            "{text}: {err}"
        );
        let message = err.to_string();
        assert!(message.contains(field), "{message}");
        if let Some(i) = step {
            assert!(message.starts_with(&format!("step {i}: ")), "{message}");
        }
    }
}

#[test]
fn not_json_is_an_error_too() {
    let err = parse_err("{nope");
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    let err = parse_err("[1,2]");
    assert_eq!(err.step, None);
}

#[test]
fn a_script_can_break_a_part_and_the_timeline_names_it() {
    let lines = json_lines(
        r#"{"v":1,"profile":"mini",
            "steps":[{"t_ms":0,"input":"power_on"},{"t_ms":3000,"input":"provision"},
                     {"t_ms":4000,"input":"hub_connected"},
                     {"t_ms":5000,"input":"sensor_ok","part":"image_sensor"},
                     {"t_ms":20000,"input":"sensor_failed","part":"image_sensor"}],
            "until_ms":40000}"#,
    );
    let failed: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("self_test_failed"))
        .collect();
    assert_eq!(
        failed,
        vec![
            r#"{"type":"event","t_ms":30000,"event":"self_test_failed","failing_ms":10000,"part":"image_sensor","phase":"running","reason":"failed in the script"}"#
        ]
    );
    for (text, field) in [
        (
            r#"{"v":1,"profile":"mini","steps":[{"t_ms":0,"input":"sensor_failed"}]}"#,
            "part",
        ),
        (
            r#"{"v":1,"profile":"mini","steps":[{"t_ms":0,"input":"sensor_ok","part":"lens"}]}"#,
            "part",
        ),
        (
            r#"{"v":1,"profile":"mini","steps":[{"t_ms":0,"input":"sensor_ok","part":"image_sensor","why":1}]}"#,
            "why",
        ),
    ] {
        let err = parse_err(text);
        assert_eq!((err.step, err.field.as_str()), (Some(0), field), "{err}");
    }
    assert!(
        parse_err(
            r#"{"v":1,"profile":"mini","steps":[{"t_ms":0,"input":"sensor_ok","part":"lens"}]}"#
        )
        .to_string()
        .contains("known: image_sensor, motion_sensor")
    );
}
