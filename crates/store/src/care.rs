//! What the owner services keep (issue 4): arming schedules, monthly reports,
//! notifications and webhooks. Tables in `migrations/3_care.sql`.
