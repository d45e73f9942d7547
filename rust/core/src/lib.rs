//! REM's pure-Rust kernels. No Python here: every entry point takes Arrow
//! record batches (or plain slices) and returns Arrow record batches, so the
//! binding crate only converts, releases the GIL and calls in.
//!
//! Modules follow the data flow of a dream:
//! - [`columns`]: typed access to Arrow string / integer columns whatever
//!   physical string layout the producer chose (Utf8, LargeUtf8, Utf8View),
//!   and the fast validation of imported batches.
//! - [`tokens`]: the offline token estimate used for every budget.
//! - [`segment`]: deterministic segmentation of activity into segments, refined
//!   by what the items say ([`cohesion`]: topic shifts by lexical cohesion).
//! - [`pack`]: refs, truncation and chunking under a token budget.
//! - [`vectors`]: int8-quantized dense vectors and their brute-force top-k (search);
//!   [`static_embed`]: WordLlama's static embeddings (token vectors averaged).
//! - [`graph`], [`merge`], [`dot`]: the living graph (CSR over node keys,
//!   decay, centrality, traversal), the edge reinforce/merge plan, DOT output.
//! - [`phrases`]: key-phrase candidates of ASCII text for the understanding (the same as its Python);
//!   [`keyrank`]: a segment's key phrases picked from those candidates;
//!   [`valence`]: VADER's compound valence of ASCII sentences (the same number as the Python package).
//! - shared pieces: [`error`] (one error type, by kind of bad input),
//!   [`intern`] (edge-type codes), [`par`] (worker threads), [`timefmt`].

pub mod cohesion;
pub mod columns;
pub mod cues;
pub mod dot;
pub mod entities;
pub mod error;
pub mod graph;
pub mod intern;
pub mod keyrank;
pub mod merge;
pub mod pack;
pub mod par;
pub mod phrases;
pub mod segment;
pub mod static_embed;
pub mod timefmt;
pub mod tokens;
pub mod valence;
pub mod vectors;

pub use error::{CoreError, ErrorKind, Result};
