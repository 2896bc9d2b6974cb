//! SPEC §3's light table and `light_table::TABLE`, row by row: priority, condition id, the
//! light, the light ids and every duration the SPEC names must agree.

use std::path::PathBuf;
use watchlight_protocol::light_table::{Lasts, Row, TABLE};
use watchlight_protocol::{Light, Pattern};

fn spec_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/SPEC.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the SPEC at {} ({e}): the tests read ../shared/SPEC.md beside the repository",
            path.display()
        )
    })
}

/// The rows of the table under "## 3." as their cells, backticks removed.
fn spec_rows(spec: &str) -> Vec<Vec<String>> {
    let section = spec
        .split("\n## 3.")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the SPEC has a section 3");
    section
        .lines()
        .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().replace('`', ""))
                .collect()
        })
        .collect()
}

/// A light as the SPEC writes it: "red fast_blink", "green flash(5)", "blue solid dim".
fn spec_words(light: Light) -> String {
    let pattern = match light.pattern {
        Pattern::Flash { count } => format!("flash({count})"),
        p => p.as_str().to_string(),
    };
    match (light.pattern, light.dim) {
        (Pattern::Off, _) => "off".to_string(),
        (_, true) => format!("{} {pattern} dim", light.color.as_str()),
        _ => format!("{} {pattern}", light.color.as_str()),
    }
}

/// Every duration written in a cell, in milliseconds ("10 s", "300 ms", "after 10 min").
fn durations_ms(cell: &str) -> Vec<u64> {
    let words: Vec<&str> = cell
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter_map(|w| {
            let n: u64 = w[0].parse().ok()?;
            match w[1] {
                "ms" => Some(n),
                "s" => Some(n * 1000),
                "min" => Some(n * 60_000),
                _ => None,
            }
        })
        .collect()
}

/// Every duration the row defines.
fn row_durations(row: &Row) -> Vec<u64> {
    let mut out: Vec<u64> = row.fixed_ms().into_iter().collect();
    if let Lasts::UntilConnectedOrGiveUp { give_up_ms } = row.lasts {
        out.push(give_up_ms);
    }
    if let Some(later) = row.later {
        out.extend(later.after_ms);
        out.extend(later.every_ms);
    }
    out
}

#[test]
fn the_definition_is_the_spec_table_row_by_row() {
    let spec = spec_text();
    let rows = spec_rows(&spec);
    assert_eq!(
        rows.len(),
        TABLE.len(),
        "the SPEC's §3 table has {} rows",
        rows.len()
    );
    for (cells, row) in rows.iter().zip(TABLE.iter()) {
        let [priority, condition, when, light, light_id, how_long] = &cells[..] else {
            panic!("a §3 row with {} cells: {cells:?}", cells.len());
        };
        let at = format!("SPEC §3 row {priority} ({condition})");
        assert_eq!(priority.parse::<u8>().ok(), Some(row.priority), "{at}");
        assert_eq!(condition, row.condition.as_str(), "{at}");
        assert_eq!(when, row.when, "{at}");

        // The light: the row's own first, then what it turns into.
        let own = spec_words(row.light);
        if row.replays() {
            assert!(
                light.ends_with(&format!("{own} if nothing is wrong")),
                "{at}: {light:?}"
            );
        } else {
            assert!(
                light.starts_with(&own),
                "{at}: {light:?} does not start with {own:?}"
            );
        }
        if let Some(later) = row.later {
            assert!(
                light.contains(&spec_words(later.light)),
                "{at}: {light:?} lacks the later light"
            );
        }
        if let Some((dim, dim_id)) = row.always_on {
            assert!(light.contains(&spec_words(dim)), "{at}: {light:?}");
            assert!(light_id.contains(dim_id.as_str()), "{at}: {light_id:?}");
        }

        // The light ids the owner sees.
        if row.replays() {
            assert_eq!(light_id, "as that light", "{at}");
        } else {
            assert!(
                light_id.starts_with(row.light_id.as_str()),
                "{at}: {light_id:?}"
            );
        }
        if let Some(later) = row.later.filter(|l| l.light_id != row.light_id) {
            assert!(
                light_id.contains(later.light_id.as_str()),
                "{at}: {light_id:?}"
            );
        }

        // Every duration the SPEC names for the row is one the definition has.
        let defined = row_durations(row);
        for ms in durations_ms(how_long)
            .into_iter()
            .chain(durations_ms(light))
        {
            assert!(
                defined.contains(&ms),
                "{at}: the SPEC says {ms} ms, the definition has {defined:?}"
            );
        }
    }
}
