//! Streaming engine (work in progress).
