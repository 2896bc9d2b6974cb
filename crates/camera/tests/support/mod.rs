//! A small driver for the core in tests: feeds inputs at virtual times and keeps every
//! output with its time.

#![allow(dead_code)]

use watchlight_camera::{BatteryReading, Core, Input, Output, PersistedState, Timed};
use watchlight_protocol::{
    Color, ConditionId, EventKind, LifecycleState, Light, Pattern, ProfileId, Settings,
};

pub struct Cam {
    pub core: Core,
    pub log: Vec<Timed>,
}

pub const RED_BLINK: Light = Light::new(Color::Red, Pattern::Blink);
pub const RED_SLOW_BLINK: Light = Light::new(Color::Red, Pattern::SlowBlink);
pub const RED_FAST_BLINK: Light = Light::new(Color::Red, Pattern::FastBlink);
pub const RED_SOLID: Light = Light::new(Color::Red, Pattern::Solid);
pub const GREEN_BLINK: Light = Light::new(Color::Green, Pattern::Blink);
pub const BLUE_SOLID: Light = Light::new(Color::Blue, Pattern::Solid);
pub const BLUE_DIM: Light = Light::dim(Color::Blue, Pattern::Solid);
pub const OFF: Light = Light::OFF;

pub const fn flash(color: Color, count: u8) -> Light {
    Light::new(color, Pattern::Flash { count })
}

impl Cam {
    /// A never set-up camera with these settings.
    pub fn new(profile: ProfileId, settings: Settings) -> Cam {
        let persisted = PersistedState {
            settings,
            ..PersistedState::default()
        };
        Cam {
            core: Core::new(profile.profile(), persisted, 0),
            log: Vec::new(),
        }
    }

    pub fn fresh(profile: ProfileId) -> Cam {
        Cam::new(profile, Settings::default())
    }

    pub fn armed(profile: ProfileId) -> Cam {
        Cam::new(
            profile,
            Settings {
                armed: true,
                ..Settings::default()
            },
        )
    }

    fn drain(&mut self) {
        while let Some(o) = self.core.poll_output() {
            self.log.push(o);
        }
    }

    pub fn at(&mut self, t: u64, input: Input) -> &mut Cam {
        self.core.handle_input(t, input);
        self.drain();
        self
    }

    pub fn until(&mut self, t: u64) -> &mut Cam {
        self.core.handle_timeout(t);
        self.drain();
        self
    }

    pub fn battery(&mut self, t: u64, resting_mv: u32, loaded_mv: u32) -> &mut Cam {
        self.at(
            t,
            Input::Battery(BatteryReading {
                resting_mv,
                loaded_mv,
                temp_c: 20.0,
            }),
        )
    }

    /// Power on at 0, provisioned at 3000, online at 4000; log cleared after 10 s.
    pub fn online(profile: ProfileId, settings: Settings) -> Cam {
        let mut cam = Cam::new(profile, settings);
        cam.at(0, Input::PowerOn)
            .at(3000, Input::Provisioned)
            .at(4000, Input::HubConnected)
            .until(10_000);
        cam.log.clear();
        cam
    }

    pub fn lights(&self) -> Vec<(u64, ConditionId, Light)> {
        self.log
            .iter()
            .filter_map(|o| match o.output {
                Output::Light { condition, light } => Some((o.t_ms, condition, light)),
                _ => None,
            })
            .collect()
    }

    pub fn states(&self) -> Vec<(u64, LifecycleState)> {
        self.log
            .iter()
            .filter_map(|o| match o.output {
                Output::State(s) => Some((o.t_ms, s)),
                _ => None,
            })
            .collect()
    }

    pub fn events(&self) -> Vec<(u64, EventKind)> {
        self.log
            .iter()
            .filter_map(|o| match &o.output {
                Output::Event { kind, .. } => Some((o.t_ms, *kind)),
                _ => None,
            })
            .collect()
    }

    pub fn outputs(&self, pred: impl Fn(&Output) -> bool) -> Vec<(u64, Output)> {
        self.log
            .iter()
            .filter(|o| pred(&o.output))
            .map(|o| (o.t_ms, o.output.clone()))
            .collect()
    }

    pub fn clear(&mut self) {
        self.log.clear();
    }
}
