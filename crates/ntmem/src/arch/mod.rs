//! Hardware definitions: what the simulated CPU and MMU understand, and nothing of policy.

pub mod x86_64;
