//! The camera's brain, sans-IO: lifecycle, status light, battery monitor, recording decision, offline queue.
