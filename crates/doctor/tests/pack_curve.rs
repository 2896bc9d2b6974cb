//! The independent eval world draws battery readings from the simulated pack's own curve:
//! if the two drift apart, its battery cases measure the mismatch, not the doctor.

#[test]
fn the_independent_world_uses_the_simulated_packs_curve() {
    assert_eq!(
        watchlight_doctor::eval::independent::PACK_CURVE,
        watchlight_hw::sim::OCV_CURVE
    );
}
