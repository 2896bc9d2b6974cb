//! A pack of 2×AA lithium (Li-FeS2) cells with a physical discharge model: charge drawn
//! at the current of what the camera does (idle, transmitting, recording), an
//! open-circuit voltage that follows the depth of discharge, and an internal
//! resistance that grows with depth of discharge, age and cold. The loaded voltage is
//! the open-circuit voltage minus the drop across that resistance, which is why a cold
//! or old pack reads low under load while its resting voltage still looks fine.

use crate::{BatteryGauge, BatteryReading, Clock};

/// What the camera is doing, for the current it draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    Idle,
    Transmitting,
    Recording,
}

/// The pack's constants. The defaults are two Energizer-L91-like cells in series.
#[derive(Debug, Clone, PartialEq)]
pub struct BatteryModel {
    pub capacity_mah: f64,
    /// Internal resistance of the fresh pack at 20 °C, ohms.
    pub resistance_ohm: f64,
    pub idle_ma: f64,
    pub transmit_ma: f64,
    pub record_ma: f64,
    /// Resistance growth per month of age (0.04 = +4 % a month).
    pub aging_per_month: f64,
    /// Resistance growth per degree below 20 °C (0.03 = +3 % per degree).
    pub cold_per_degree: f64,
}

impl Default for BatteryModel {
    fn default() -> Self {
        BatteryModel {
            capacity_mah: 3000.0,
            resistance_ohm: 0.30,
            idle_ma: 0.08,
            transmit_ma: 180.0,
            record_ma: 350.0,
            aging_per_month: 0.04,
            cold_per_degree: 0.03,
        }
    }
}

/// Open-circuit voltage of the pack (mV) against depth of discharge: a quick fall from
/// the fresh 3.6 V to a long plateau, then the knee at the end of life. The hub's forecast
/// reads the same curve (`watchlight_care::battery::OCV_CURVE`; a test holds them equal).
pub const OCV_CURVE: [(f64, f64); 9] = [
    (0.00, 3600.0),
    (0.05, 3300.0),
    (0.20, 3200.0),
    (0.50, 3100.0),
    (0.80, 3000.0),
    (0.90, 2900.0),
    (0.95, 2750.0),
    (0.98, 2550.0),
    (1.00, 2200.0),
];

impl BatteryModel {
    /// Resting (open-circuit) voltage at a depth of discharge in 0..=1.
    pub fn open_circuit_mv(&self, depth: f64) -> f64 {
        let d = depth.clamp(0.0, 1.0);
        let upper = OCV_CURVE
            .iter()
            .position(|&(x, _)| x >= d)
            .unwrap_or(OCV_CURVE.len() - 1)
            .max(1);
        let (x0, y0) = OCV_CURVE[upper - 1];
        let (x1, y1) = OCV_CURVE[upper];
        y0 + (y1 - y0) * (d - x0) / (x1 - x0)
    }

    /// Internal resistance, ohms, at a depth of discharge, age and temperature.
    pub fn resistance_ohm(&self, depth: f64, age_months: f64, temp_c: f64) -> f64 {
        let depth = depth.clamp(0.0, 1.0);
        let aging = 1.0 + self.aging_per_month * age_months.max(0.0);
        let cold = 1.0 + self.cold_per_degree * (20.0 - temp_c).max(0.0);
        let end_of_life = 1.0 + 3.0 * depth.powi(3);
        self.resistance_ohm * aging * cold * end_of_life
    }

    pub fn current_ma(&self, load: Load) -> f64 {
        match load {
            Load::Idle => self.idle_ma,
            Load::Transmitting => self.transmit_ma,
            Load::Recording => self.record_ma,
        }
    }
}

/// The simulated pack, discharging on the shared clock.
#[derive(Debug, Clone)]
pub struct SimBattery<C: Clock> {
    clock: C,
    model: BatteryModel,
    drawn_mah: f64,
    load: Load,
    last_ms: u64,
    /// Current of the last heavy load (what "loaded voltage" was measured at).
    heavy_ma: f64,
    temp_c: f64,
    age_months: f64,
}

impl<C: Clock> SimBattery<C> {
    /// A fresh pack, idle, at 20 °C.
    pub fn new(clock: C, model: BatteryModel) -> SimBattery<C> {
        let now = clock.now_ms();
        let heavy_ma = model.record_ma;
        SimBattery {
            clock,
            model,
            drawn_mah: 0.0,
            load: Load::Idle,
            last_ms: now,
            heavy_ma,
            temp_c: 20.0,
            age_months: 0.0,
        }
    }

    /// Counts the charge drawn since the last update at the current load.
    fn integrate(&mut self) {
        let now = self.clock.now_ms();
        let hours = now.saturating_sub(self.last_ms) as f64 / 3_600_000.0;
        self.drawn_mah += self.model.current_ma(self.load) * hours;
        self.drawn_mah = self.drawn_mah.min(self.model.capacity_mah);
        self.last_ms = now;
    }

    pub fn set_load(&mut self, load: Load) {
        self.integrate();
        self.load = load;
        if load != Load::Idle {
            self.heavy_ma = self.model.current_ma(load);
        }
    }

    pub fn set_temperature(&mut self, temp_c: f64) {
        self.temp_c = temp_c;
    }

    pub fn set_age_months(&mut self, months: f64) {
        self.age_months = months;
    }

    /// Fresh batteries: nothing drawn, new cells.
    pub fn replace(&mut self) {
        self.integrate();
        self.drawn_mah = 0.0;
        self.age_months = 0.0;
    }

    /// Jumps to a depth of discharge (for tests and scripted faults).
    pub fn set_depth(&mut self, depth: f64) {
        self.integrate();
        self.drawn_mah = depth.clamp(0.0, 1.0) * self.model.capacity_mah;
    }

    /// Share of the capacity drawn, 0..=1.
    pub fn depth(&mut self) -> f64 {
        self.integrate();
        self.drawn_mah / self.model.capacity_mah
    }

    pub fn model(&self) -> &BatteryModel {
        &self.model
    }
}

impl<C: Clock> BatteryGauge for SimBattery<C> {
    fn read(&mut self) -> BatteryReading {
        let depth = self.depth();
        let ocv = self.model.open_circuit_mv(depth);
        let r = self
            .model
            .resistance_ohm(depth, self.age_months, self.temp_c);
        let loaded = (ocv - self.heavy_ma * r).max(0.0);
        BatteryReading {
            resting_mv: ocv.round() as u32,
            loaded_mv: loaded.round() as u32,
            temp_c: self.temp_c as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimClock;

    const HOUR: u64 = 3_600_000;

    #[test]
    fn recording_drains_at_its_current() {
        let clock = SimClock::new(0);
        let mut b = SimBattery::new(clock.clone(), BatteryModel::default());
        b.set_load(Load::Recording);
        clock.advance(HOUR);
        b.set_load(Load::Idle);
        // 350 mAh of 3000.
        assert!((b.depth() - 350.0 / 3000.0).abs() < 1e-9);
        clock.advance(1000 * HOUR);
        // Idle: 0.08 mA for 1000 h = 80 mAh more.
        assert!((b.depth() - 430.0 / 3000.0).abs() < 1e-9);
    }

    #[test]
    fn a_fresh_pack_reads_ok_and_an_empty_one_critical() {
        let clock = SimClock::new(0);
        let mut b = SimBattery::new(clock, BatteryModel::default());
        let fresh = b.read();
        assert_eq!(fresh.resting_mv, 3600);
        assert_eq!(fresh.loaded_mv, 3495);
        b.set_depth(1.0);
        let dead = b.read();
        assert_eq!(dead.resting_mv, 2200);
        assert!(dead.loaded_mv < 2400);
    }

    #[test]
    fn cold_and_age_lower_the_loaded_voltage_not_the_resting_one() {
        let clock = SimClock::new(0);
        let mut b = SimBattery::new(clock, BatteryModel::default());
        b.set_depth(0.8);
        let warm = b.read();
        b.set_temperature(-10.0);
        let cold = b.read();
        assert_eq!(warm.resting_mv, cold.resting_mv);
        assert!(
            cold.loaded_mv + 200 < warm.loaded_mv,
            "{cold:?} vs {warm:?}"
        );
        b.set_temperature(20.0);
        b.set_age_months(24.0);
        let old = b.read();
        assert!(old.loaded_mv < warm.loaded_mv);
    }

    #[test]
    fn replacing_restores_a_fresh_pack() {
        let clock = SimClock::new(0);
        let mut b = SimBattery::new(clock, BatteryModel::default());
        b.set_depth(0.99);
        b.set_age_months(12.0);
        b.replace();
        assert_eq!(b.read().resting_mv, 3600);
    }
}
