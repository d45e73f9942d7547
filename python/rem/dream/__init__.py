"""The dream pipeline: collect → pack (Rust) → model → resolve → persist."""
