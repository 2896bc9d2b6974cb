//! Simulated hardware. Each simulation implements the same trait a Linux board does.
