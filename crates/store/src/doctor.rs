//! What the doctor keeps (issue 6): learned priors from confirmed fixes.
//! Tables in `migrations/4_doctor.sql`.
