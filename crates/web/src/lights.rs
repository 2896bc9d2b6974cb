//! The status light as CSS: one `@keyframes` per pattern, sampled from
//! `watchlight_protocol::light::Pattern::is_lit_at`, so the page blinks at exactly the
//! device's timing. The page marks a light up as
//! `<span class="light" data-color=red data-pattern=flash data-count=3 data-light=...>`
//! from the camera's `state.light` report.

use std::fmt::Write;
use watchlight_protocol::light_table::{self, Lasts};
use watchlight_protocol::{Color, LightId, Pattern};

/// Every repeating pattern repeats within this many milliseconds (the least common
/// multiple of the blink periods), so sampling one cycle of it is exact.
const REPEAT_CYCLE_MS: u64 = 4_000;

/// Flash counts a light can show (identify flashes 5 times; SPEC §3).
const FLASH_COUNTS: std::ops::RangeInclusive<u8> = 1..=5;

/// Light ids whose flash comes back on a timer rather than once (the long-offline
/// flash every 5 s, the low battery's reminder once a minute), from the light table.
fn repeating_flashes() -> Vec<(LightId, Pattern, u64)> {
    let mut out = Vec::new();
    for row in &light_table::TABLE {
        if let Some(later) = row.later
            && let Some(every) = later.every_ms
        {
            out.push((later.light_id, later.light.pattern, every));
        }
        if let Lasts::EachTime { every_ms } = row.lasts {
            out.push((row.light_id, row.light.pattern, every_ms));
        }
    }
    out
}

/// How bright an unlit LED looks next to a lit one (a dark lens, not nothing).
const UNLIT_OPACITY: &str = "0.12";

/// Colours the page paints a lit LED with.
fn rgb(color: Color) -> &'static str {
    match color {
        Color::Red => "#ff2d2d",
        Color::Green => "#19d35a",
        Color::Blue => "#2f7bff",
        Color::None => "#30343a",
    }
}

/// `@keyframes name` holding `pattern` over `cycle_ms` (steps, no fading: an LED
/// switches).
fn keyframes(out: &mut String, name: &str, pattern: Pattern, cycle_ms: u64) {
    let _ = writeln!(out, "@keyframes {name} {{");
    let mut last = None;
    for t in 0..cycle_ms {
        let lit = pattern.is_lit_at(t);
        if last != Some(lit) {
            let pct = t as f64 * 100.0 / cycle_ms as f64;
            let opacity = if lit { "1" } else { UNLIT_OPACITY };
            let _ = writeln!(out, "  {pct:.3}% {{ opacity: {opacity}; }}");
            last = Some(lit);
        }
    }
    let _ = writeln!(out, "}}");
}

/// The style sheet of the lights: colours, then one animation per pattern.
pub fn css() -> String {
    let mut out = String::from("/* Generated from watchlight_protocol::light. */\n");
    for color in [Color::Red, Color::Green, Color::Blue] {
        let _ = writeln!(
            out,
            ".light[data-color={c}] .led {{ background: {rgb}; box-shadow: 0 0 0.6em {rgb}; }}",
            c = color.as_str(),
            rgb = rgb(color)
        );
    }
    let _ = writeln!(
        out,
        ".light[data-dim] .led {{ opacity: 0.45; box-shadow: none; }}\n\
         .light[data-pattern=off] .led {{ background: {}; box-shadow: none; }}",
        rgb(Color::None)
    );
    for pattern in [Pattern::Blink, Pattern::SlowBlink, Pattern::FastBlink] {
        let name = format!("wl-{}", pattern.as_str());
        keyframes(&mut out, &name, pattern, REPEAT_CYCLE_MS);
        let _ = writeln!(
            out,
            ".light[data-pattern={p}] .led {{ animation: {name} {REPEAT_CYCLE_MS}ms step-end infinite; }}",
            p = pattern.as_str()
        );
    }
    for count in FLASH_COUNTS {
        let pattern = Pattern::Flash { count };
        let duration = pattern.flash_duration_ms().unwrap_or(0);
        let name = format!("wl-flash-{count}");
        keyframes(&mut out, &name, pattern, duration);
        // Once, as the device does; the light then stays dark.
        let _ = writeln!(
            out,
            ".light[data-pattern=flash][data-count=\"{count}\"] .led {{ animation: {name} {duration}ms step-end 1 forwards; }}",
        );
    }
    for (id, pattern, every_ms) in repeating_flashes() {
        let name = format!("wl-{}", id.as_str());
        keyframes(&mut out, &name, pattern, every_ms);
        let _ = writeln!(
            out,
            ".light[data-pattern=flash][data-count][data-light={id}] .led {{ animation: {name} {every_ms}ms step-end infinite; }}",
            id = id.as_str()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keyframe offsets (in %) and opacities of `name`.
    fn frames(css: &str, name: &str) -> Vec<(f64, String)> {
        let start = css.find(&format!("@keyframes {name} {{")).unwrap();
        let body = &css[start..];
        let body = &body[..body.find("\n}").unwrap()];
        body.lines()
            .skip(1)
            .map(|l| {
                let (pct, rest) = l.trim().split_once("% {").unwrap();
                let op = rest
                    .split("opacity: ")
                    .nth(1)
                    .unwrap()
                    .split(';')
                    .next()
                    .unwrap();
                (pct.parse().unwrap(), op.to_string())
            })
            .collect()
    }

    #[test]
    fn blink_is_one_hertz_half_on() {
        let f = frames(&css(), "wl-blink");
        // 4 s cycle: on at 0, off at 500 ms (12.5 %), on at 1000 ms (25 %), ...
        assert_eq!(f.len(), 8);
        assert_eq!(f[0], (0.0, "1".into()));
        assert_eq!(f[1], (12.5, UNLIT_OPACITY.into()));
        assert_eq!(f[2], (25.0, "1".into()));
    }

    #[test]
    fn fast_blink_is_four_hertz_and_slow_blink_half_a_hertz() {
        assert_eq!(frames(&css(), "wl-fast_blink").len(), 32);
        let slow = frames(&css(), "wl-slow_blink");
        assert_eq!(slow.len(), 4);
        assert_eq!(slow[1], (25.0, UNLIT_OPACITY.into()));
    }

    #[test]
    fn flash_three_is_three_pulses_of_150_ms() {
        let css = css();
        let f = frames(&css, "wl-flash-3");
        assert_eq!(f.len(), 6);
        assert!(css.contains("wl-flash-3 900ms step-end 1 forwards"));
    }

    #[test]
    fn the_low_battery_reminder_repeats_once_a_minute() {
        let css = css();
        let f = frames(&css, "wl-red_flash_after_recording");
        assert_eq!(f.len(), 6, "three pulses: {f:?}");
        assert!(css.contains("wl-red_flash_after_recording 60000ms step-end infinite"));
    }

    #[test]
    fn long_offline_flash_repeats_every_five_seconds() {
        let css = css();
        let f = frames(&css, "wl-red_flash_every_5s");
        // one 150 ms pulse in 5 s: lit at 0, dark from 3 %
        assert_eq!(f, vec![(0.0, "1".into()), (3.0, UNLIT_OPACITY.into())]);
        assert!(css.contains("[data-count][data-light=red_flash_every_5s] .led { animation: wl-red_flash_every_5s 5000ms step-end infinite"));
    }
}
