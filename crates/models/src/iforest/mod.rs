//! Isolation Forest (Liu, Ting and Zhou, 2008) and its extended variant (Hariri, Kind and
//! Brunner, 2019).
//!
//! Anomalies are few and different, so random partitioning isolates them in fewer splits.
//! Each tree is grown on a random subsample (default 256 rows) to a depth limit of
//! `ceil(log2(subsample))`; the score of a row is `2^(-E[h(x)] / c(subsample))`, where
//! `h(x)` is the path length to the row's leaf (plus `c(leaf size)` for unfinished
//! leaves) and `c(n)` the average path length of an unsuccessful BST search. Scores are in
//! (0, 1]; values near 1 are anomalous, below 0.5 normal.
//!
//! Axis-parallel trees split as scikit-learn's do: on values rounded to `f32`, and never on
//! a feature whose values on the node span at most 1e-7 (constant there, or floating-point
//! noise around a constant).
//!
//! [`SplitRule::Hyperplane`] selects the Extended Isolation Forest, whose random
//! hyperplanes remove the axis-aligned artefacts of the classic score map.
//!
//! Trees are grown and rows are scored in parallel; each tree's generator is seeded from
//! the master seed and the tree index, so results do not depend on the thread count.

mod algorithm;
mod build;
mod params;
mod score;
mod validate;

pub use algorithm::IsolationForest;
pub use build::average_path_length;
pub use params::{IsolationForestParams, IsolationForestValidParams, MAX_DEPTH_LIMIT, SplitRule};

#[cfg(test)]
mod tests;
