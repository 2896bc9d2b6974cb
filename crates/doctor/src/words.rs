//! The doctor's vocabulary in the owner's words: lights as they look, timings as people
//! say them, and the parsing of what an owner types back. Ids stay in `--json`.

use crate::case::When;
use watchlight_protocol::LightId;

/// A light as an owner would name it (the choice shown in the terminal).
pub fn light_choice(light: LightId) -> &'static str {
    match light {
        LightId::RedFastBlink => "fast blinking red",
        LightId::RedFlashThenDark => "red flashes three times, then dark",
        LightId::RedBlink => "blinking red",
        LightId::RedSolid => "solid red",
        LightId::RedSlowBlink => "slowly blinking red",
        LightId::GreenBlink => "blinking green",
        LightId::RedFlashOnMotion => "one red flash when there is motion",
        LightId::BlueSolid => "solid blue",
        LightId::RedFlashEvery5s => "a red flash every few seconds",
        LightId::RedFlashAfterRecording => "three red flashes after a recording",
        LightId::GreenFlash => "green flashes a few times",
        LightId::BlueDim => "dim blue",
        LightId::Off => "no light",
    }
}

/// Other ways owners say the same light (matched after [`light_choice`] and the id).
fn light_synonyms(light: LightId) -> &'static [&'static str] {
    match light {
        LightId::RedFastBlink => &["rapid red", "fast red", "red fast blink", "red fast"],
        LightId::RedFlashThenDark => &[
            "red flash then dark",
            "red flashes then off",
            "flashed red then went dark",
        ],
        LightId::RedBlink => &[
            "flashing red",
            "red blinking",
            "red blink",
            "blinking red light",
        ],
        LightId::RedSolid => &["steady red", "red", "red on", "constant red"],
        LightId::RedSlowBlink => &["slow blinking red", "slow red blink", "slow red"],
        LightId::GreenBlink => &["flashing green", "green blinking", "green blink"],
        LightId::RedFlashOnMotion => &[
            "red flash on motion",
            "red flash when someone walks by",
            "one red flash",
        ],
        LightId::BlueSolid => &["steady blue", "blue", "blue on", "bright blue"],
        LightId::RedFlashEvery5s => &[
            "red flash every 5 seconds",
            "red flash every 5s",
            "red flash every five seconds",
            "occasional red flash",
        ],
        LightId::RedFlashAfterRecording => &[
            "red flashes after recording",
            "three red flashes",
            "red flash after recording",
        ],
        LightId::GreenFlash => &["green flash", "green flashes", "flashing green once"],
        LightId::BlueDim => &["faint blue", "dim blue light", "glowing blue"],
        LightId::Off => &["off", "nothing", "dark", "none", "no"],
    }
}

/// A short phrase for a light inside a sentence ("a red blink").
pub fn light_phrase(light: LightId) -> &'static str {
    match light {
        LightId::RedFastBlink => "a fast red blink",
        LightId::RedFlashThenDark => "three red flashes and then dark",
        LightId::RedBlink => "a red blink",
        LightId::RedSolid => "a solid red light",
        LightId::RedSlowBlink => "a slow red blink",
        LightId::GreenBlink => "a green blink",
        LightId::RedFlashOnMotion => "a single red flash on motion",
        LightId::BlueSolid => "a solid blue light",
        LightId::RedFlashEvery5s => "a red flash every few seconds",
        LightId::RedFlashAfterRecording => "three red flashes after a recording",
        LightId::GreenFlash => "a green flash",
        LightId::BlueDim => "a dim blue light",
        LightId::Off => "no light",
    }
}

/// When a light shows, as an owner would say it.
pub fn when_choice(when: When) -> &'static str {
    match when {
        When::Continuous => "all the time",
        When::Intermittent => "now and then",
        When::AfterRecording => "after a recording",
        When::OnMotion => "when there is motion",
        When::DuringSetup => "while setting it up",
        When::AfterReset => "since a reset",
    }
}

fn when_synonyms(when: When) -> &'static [&'static str] {
    match when {
        When::Continuous => &[
            "always",
            "constantly",
            "all day",
            "nonstop",
            "the whole time",
        ],
        When::Intermittent => &["sometimes", "on and off", "occasionally", "now and again"],
        When::AfterRecording => &[
            "after recording",
            "when a recording ends",
            "after it records",
        ],
        When::OnMotion => &[
            "on motion",
            "when someone walks by",
            "with motion",
            "when i walk past",
        ],
        When::DuringSetup => &["during setup", "while adding it", "setting up"],
        When::AfterReset => &["after reset", "after a reset", "since i reset it"],
    }
}

fn normalise(text: &str) -> String {
    let kept: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Pick one of `items` from what an owner typed: its number in the list, its id, its
/// words or a synonym ("flashing red", "3", "red_blink").
fn parse_choice<T: Copy>(
    text: &str,
    items: &[T],
    id: impl Fn(T) -> &'static str,
    choice: impl Fn(T) -> &'static str,
    synonyms: impl Fn(T) -> &'static [&'static str],
) -> Option<T> {
    let t = normalise(text);
    if let Ok(n) = t.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| items.get(i)).copied();
    }
    let spaced = |s: &str| normalise(&s.replace('_', " "));
    items
        .iter()
        .copied()
        .find(|x| spaced(id(*x)) == t || normalise(choice(*x)) == t)
        .or_else(|| {
            items
                .iter()
                .copied()
                .find(|x| synonyms(*x).iter().any(|s| normalise(s) == t))
        })
}

/// The light an owner typed, if it names one.
pub fn parse_light(text: &str) -> Option<LightId> {
    parse_choice(
        text,
        &LightId::ALL,
        LightId::as_str,
        light_choice,
        light_synonyms,
    )
}

/// The timing an owner typed, if it names one.
pub fn parse_when(text: &str) -> Option<When> {
    parse_choice(text, &When::ALL, When::as_str, when_choice, when_synonyms)
}

/// The numbered choices for a list, one a line.
pub fn numbered<T: Copy>(items: &[T], choice: impl Fn(T) -> &'static str) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, x)| format!("  {:>2}. {}", i + 1, choice(*x)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_can_name_a_light_in_words_by_number_or_by_id() {
        assert_eq!(parse_light("flashing red"), Some(LightId::RedBlink));
        assert_eq!(parse_light("Blinking green"), Some(LightId::GreenBlink));
        assert_eq!(parse_light("solid blue."), Some(LightId::BlueSolid));
        assert_eq!(parse_light("no light"), Some(LightId::Off));
        assert_eq!(parse_light("3"), Some(LightId::RedBlink));
        assert_eq!(
            parse_light("red_flash_after_recording"),
            Some(LightId::RedFlashAfterRecording)
        );
        assert_eq!(parse_light("purple"), None);
        assert_eq!(parse_light("14"), None);
        assert_eq!(parse_when("all the time"), Some(When::Continuous));
        assert_eq!(parse_when("sometimes"), Some(When::Intermittent));
        assert_eq!(parse_when("on_motion"), Some(When::OnMotion));
        assert_eq!(parse_when("2"), Some(When::Intermittent));
    }

    #[test]
    fn every_light_and_timing_parses_back_from_its_own_words() {
        for l in LightId::ALL {
            assert_eq!(parse_light(light_choice(l)), Some(l), "{l}");
            for s in light_synonyms(l) {
                assert_eq!(parse_light(s), Some(l), "{s}");
            }
        }
        for w in When::ALL {
            assert_eq!(parse_when(when_choice(w)), Some(w));
            for s in when_synonyms(w) {
                assert_eq!(parse_when(s), Some(w), "{s}");
            }
        }
    }
}
