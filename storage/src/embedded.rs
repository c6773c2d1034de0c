//! The embedded persistent store (being written).
